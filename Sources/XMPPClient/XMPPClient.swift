// XMPPClient: the client library (connection, negotiation through ClientNegotiationStateMachine, and
// feature modules). Empty until the client milestone fills it.
