import XMPPCore

/// Sees an IQ request another module answered successfully, before the result goes out: a module that keeps two
/// views of the same data in step (XEP-0398: a vCard photo also becomes the PEP avatar) follows the other's writes.
public typealias IQObserver = @Sendable (IQRequest, IQReply) async -> Void

extension ModuleHost {
    /// Runs `observer` after every successful request whose payload is in `namespace` (any target, any type),
    /// before its result is sent; the requester waits for it, so keep it short.
    public func observeIQ(_ namespace: String, _ observer: @escaping IQObserver) {
        hooks.iqObservers[namespace, default: []].append(observer)
    }

    /// Adds a disco identity of every account (`disco#info` to a bare JID), beside `account/registered`.
    public func addAccountIdentity(_ identity: DiscoIdentity) {
        accountIdentities.append(identity)
    }
}
