import Logging
import Foundation
import NIOCore
import XMPPCore

// Session lifecycle: binding a resource (RFC 6120 §7) and what happens when a session ends (RFC 6121 §4.5.2).
extension ServerKernel {
    /// A fresh resource for a client that asked for none.
    public func generatedResource() -> String {
        "swiftxmpp-" + StanzaID.make().prefix(8)
    }

    /// Runs the modules' session-bound hooks for a session about to be registered (they load what routing to the
    /// account needs); `nil` when no module has one. Call before ``bind(_:)``.
    public func prepareBinding(of session: any ClientSession) -> EventLoopFuture<Void>? {
        runSessionBoundHooks(session)
    }

    /// Registers a bound session. A session already using the same full JID is closed with `conflict` (the newer
    /// one wins); an account at its session limit gets `resource-constraint`.
    public func bind(_ session: any ClientSession) throws(StanzaError) {
        let jid = session.jid
        if let user = jid.localpart, isBeingDeleted(user) {
            throw StanzaError(.notAuthorized, text: "the account is being removed")
        }
        if registry.entry(jid) == nil && registry.sessionCount(of: jid.bare) >= configuration.maxSessionsPerAccount {
            throw StanzaError(.resourceConstraint, text: "too many sessions for this account")
        }
        if let replaced = registry.add(session), replaced !== session {
            logger.info("session replaced", metadata: ["jid": "\(jid)"])
            replaced.close(with: StreamError(.conflict, text: "replaced by a new session"))
        }
        logger.info("session bound", metadata: ["jid": "\(jid)"])
        if session.clusterNode == nil { clusterLink?.sessionBound(session) }
    }

    /// Forgets a session whose stream ended: its contacts and directed-presence recipients see it go
    /// unavailable, then the session-ended hooks run. Safe to call for a session that was replaced.
    public func sessionEnded(_ session: any ClientSession, reason: SessionEndReason = .disconnected) -> EventLoopFuture<Void>? {
        guard let entry = registry.remove(session) else { return nil }
        logger.info("session ended", metadata: ["jid": "\(session.jid)"])
        if session.clusterNode == nil { clusterLink?.sessionEnded(session) }
        // A session that never sent initial presence may still have sent directed presence (entered a chat room):
        // those recipients must see it go too.
        let hasRecipients = entry.isAvailable || !entry.directedPresence.isEmpty
        guard hasRecipients || !hooks.sessionEnded.isEmpty else { return nil }
        return run(on: session.eventLoop) {
            if hasRecipients { await self.broadcastUnavailable(of: session, entry: entry) }
            let remaining = self.registry.sessionCount(of: session.jid.bare)
            for hook in self.hooks.sessionEnded.hooks { await hook(session, reason, remaining, self) }
        }
    }

    private func broadcastUnavailable(of session: any ClientSession, entry: SessionRegistry.Entry) async {
        let unavailable = Presence(type: .unavailable, from: session.jid).element
        let user = session.jid.bare
        var recipients = entry.isAvailable ? await rosterItems(of: user).filter(\.contactReceivesPresence).map(\.jid) : []
        let subscribers = Set(recipients)
        recipients += entry.directedPresence.filter { !subscribers.contains($0.bare) }
        for contact in recipients {
            var copy = unavailable
            copy.setAttribute("to", to: contact.description)
            sendPresence(copy, from: session.jid, to: contact, eventLoop: session.eventLoop)
        }
        for other in registry.entries(of: user) where other.isAvailable && entry.isAvailable {
            var copy = unavailable
            copy.setAttribute("to", to: other.session.jid.description)
            other.session.deliver(copy)
        }
        if entry.isAvailable { presenceBroadcast(.unavailable, of: session, element: unavailable) }
    }

    /// Closes every session of an account (after account removal or a password change by the administrator).
    public func closeSessions(of user: JID, with error: StreamError?) {
        for entry in registry.entries(of: user.bare) { entry.session.close(with: error) }
    }

    /// Closes every session (server shutdown), after the hosted services have told their users.
    public func closeAllSessions(with error: StreamError?) {
        for service in services.values { service.shutDown(kernel: self) }
        // Sessions of other cluster nodes stay: their nodes are not stopping.
        for session in registry.allSessions() where session.clusterNode == nil { session.close(with: error) }
    }
}
