import Logging
import NIOCore
import XMPPCore
import XMPPServerKernel
import XMPPTransport

// Dialback on an incoming stream (XEP-0220): a remote's request to send from its domain, checked with that domain's
// authoritative server before any stanza from it is taken, and a remote's question whether a key is ours.
extension IncomingServerStream {
    /// `<db:result from='remote' to='us'>key</db:result>`: the remote server wants to send stanzas from its domain;
    /// its authoritative server must confirm the key (XEP-0220 §2.1–2.4).
    func dialbackRequest(_ request: Element, context: ChannelHandlerContext) {
        guard isSecured || !settings.requireTLS else {
            return close(with: StreamError(.policyViolation, text: "STARTTLS first"), context: context)
        }
        guard let from = request.attribute("from").flatMap(JID.init(validating:)), from.localpart == nil, from.resourcepart == nil,
              let to = request.attribute("to") else {
            return close(with: StreamError(.improperAddressing, text: "db:result needs from and to domains"), context: context)
        }
        let (remote, local) = (from.domainpart, to.lowercased())
        guard serves(local) else {
            return write(Dialback.error("result", from: to, to: remote, .itemNotFound), context: context)
        }
        // Never one of our own domains (a room service's, a component's): nobody else speaks for them, whatever DNS says.
        guard settings.permits(remote), !isOwn(remote) else {
            return write(Dialback.error("result", from: local, to: remote, .forbidden), context: context)
        }
        guard pendingVerifications < Self.maxPendingVerifications, remoteDomains.count < Self.maxDomains else {
            return write(Dialback.error("result", from: local, to: remote, .resourceConstraint), context: context)
        }
        pendingVerifications += 1
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        judgeDialback(request.text, Route(local: local, remote: remote), context: context).whenSuccess { outcome in
            let (stream, context) = loopBound.value
            stream.pendingVerifications -= 1
            stream.verified(Route(local: local, remote: remote), outcome, context: context)
        }
    }

    private func verified(_ route: Route, _ outcome: ServerLinks.Verification, context: ChannelHandlerContext) {
        guard !isClosing, !isInactive else { return }
        switch outcome {
        case .valid, .certified:
            if remoteDomains.count < Self.maxDomains, remoteDomains.insert(route.remote).inserted {
                links.incomingAuthenticated(route.remote)
            }
            let method: ServerLinks.Method = outcome == .certified ? .certificate : .dialback
            links.authenticated(by: method)
            logger.notice("server-to-server stream ready", metadata: ["domain": "\(route.remote)", "to": "\(route.local)", "direction": "in",
                                                                     "by": "\(method.rawValue)"])
            write(Dialback.element("result", from: route.local, to: route.remote, type: "valid"), context: context)
        case .invalid:
            logger.notice("dialback refused", metadata: ["domain": "\(route.remote)", "to": "\(route.local)"])
            write(Dialback.element("result", from: route.local, to: route.remote, type: "invalid"), context: context)
            // A refused domain ends a stream that has nothing else; the domains it authenticated already keep it.
            if remoteDomains.isEmpty { close(with: nil, context: context) }
        case .unavailable:
            // Not a judgement of the key: the remote may try again (XEP-0220 §2.4, type='error').
            write(Dialback.error("result", from: route.local, to: route.remote, .remoteServerTimeout), context: context)
        case .refused:
            logger.notice("dialback refused: s2s_secure_auth, and the certificate does not name the domain",
                          metadata: ["domain": "\(route.remote)", "to": "\(route.local)"])
            write(Dialback.error("result", from: route.local, to: route.remote, .notAuthorized), context: context)
            if remoteDomains.isEmpty { close(with: nil, context: context) }
        }
    }

    /// `<db:verify from='receiving' to='us' id='stream'>key</db:verify>`: a server we opened a stream to asks whether
    /// the key it got on that stream is ours (XEP-0220 §2.3).
    func verifyRequest(_ request: Element, context: ChannelHandlerContext) {
        guard isSecured || !settings.requireTLS else {
            return close(with: StreamError(.policyViolation, text: "STARTTLS first"), context: context)
        }
        guard let receiving = request.attribute("from")?.lowercased(), let to = request.attribute("to"), let id = request.attribute("id") else {
            return close(with: StreamError(.improperAddressing, text: "db:verify needs from, to and id"), context: context)
        }
        let originating = to.lowercased()
        // Any of our domains (a peer may check keys of several on one stream): they share the secret keys derive from.
        guard isOwn(originating) else {
            return write(Dialback.error("verify", from: to, to: receiving, id: id, .itemNotFound), context: context)
        }
        // A verification stream authenticates nothing; each answer buys it one more setup period, no more.
        startSetupTimer(context: context)
        let valid = Dialback.isValid(request.text, secret: settings.secret, receiving: receiving, originating: originating, streamID: id)
        write(Dialback.element("verify", from: originating, to: receiving, id: id, type: valid ? "valid" : "invalid"), context: context)
    }

    /// Whether `domain` is ours: the server's or a hosted service's.
    func serves(_ domain: String) -> Bool {
        domain == settings.localDomain || kernel.isHostedService(domain)
    }

    /// Whether `domain` is this server's, the stream's or another virtual host's (or one of their services'): those
    /// reach each other inside the process, so a remote server claiming one is an impostor.
    func isOwn(_ domain: String) -> Bool {
        serves(domain) || hosts?.host(serving: domain) != nil
    }
}
