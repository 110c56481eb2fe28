// XMPPServerKernel: the router, session registry, module host, hook points and storage protocols with
// in-memory stores (docs/ARCHITECTURE.md). Empty until the server milestone fills it.
