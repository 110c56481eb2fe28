import XMPPCore

/// Where stanzas for other servers go (federation, RFC 6120 §13): the server-to-server module registers one with
/// ``ModuleHost/setRemoteRouter(_:)``. Without one, the kernel answers stanzas to remote JIDs with
/// `remote-server-not-found`.
public protocol RemoteRouter: Sendable {
    /// Sends `stanza` (its `from` and `to` set) to `to`, whose domain is neither this server's nor a hosted
    /// service's. When it cannot be delivered (no route, the remote refuses or times out) the router answers the
    /// local sender with the error, through ``ServerKernel/bounceToSender(_:_:)``.
    func send(_ stanza: Element, to: JID, kernel: ServerKernel)
}

extension ModuleHost {
    /// Routes stanzas to remote domains through `router` (one per server).
    public func setRemoteRouter(_ router: any RemoteRouter) {
        precondition(remoteRouter == nil, "two modules route to remote domains")
        remoteRouter = router
    }
}
