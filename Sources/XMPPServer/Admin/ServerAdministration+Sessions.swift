import Foundation
import NIOCore
import NIOSSL
import XMPPCore
import XMPPServerKernel

/// The administration's online sessions: listing them with what their connections say, and ending them.
extension ServerAdministration {
    /// Every online session, by JID.
    /// Every online session, by JID: at most `limit` of them (the first by JID), with how many there are.
    public func sessions(scope: Scope = .server, limit: Int = 1000) async -> (sessions: [Administration.Session], total: Int) {
        var all: [SessionRegistry.Entry] = []
        for kernel in kernels(in: scope) {
            all += kernel.registry.allSessions().compactMap { kernel.registry.entry($0.jid) }
        }
        all.sort { $0.session.jid.description < $1.session.jid.description }
        return (await sessions(of: Array(all.prefix(max(0, limit)))), all.count)
    }

    func sessions(of entries: [SessionRegistry.Entry]) async -> [Administration.Session] {
        var sessions: [Administration.Session] = []
        for entry in entries {
            var session = Administration.Session(jid: entry.session.jid.description, resource: entry.session.jid.resourcepart ?? "",
                                                 address: "", listener: "detached", idleSeconds: 0)
            if let presence = entry.presence {
                session.presence = presence.child("show")?.text ?? "available"
                session.client = presence.child("c", namespace: "http://jabber.org/protocol/caps")?.attribute("node")
            }
            if let connection = entry.session as? C2SSession, connection.channel.isActive {
                let channel = connection.channel
                let figures = try? await channel.eventLoop.submit { () -> (String, String, Int, String?) in
                    let operations = channel.pipeline.syncOperations
                    let figures = try operations.handler(type: C2SConnectionHandler.self).administrationFigures
                    let tls = (try? operations.handler(type: NIOSSLHandler.self))?.tlsVersion.map(Self.describe)
                    return (figures.address, figures.listener, figures.idleSeconds, tls)
                }.get()
                if let figures { (session.address, session.listener, session.idleSeconds, session.tlsVersion) = figures }
            }
            sessions.append(session)
        }
        return sessions
    }

    private static func describe(_ version: TLSVersion) -> String {
        switch version {
        case .tlsv1: "TLSv1.0"
        case .tlsv11: "TLSv1.1"
        case .tlsv12: "TLSv1.2"
        case .tlsv13: "TLSv1.3"
        }
    }

    /// Ends the sessions of a full JID, or every session of a bare one, with `policy-violation`; how many ended.
    public func kick(_ text: String, scope: Scope = .server) throws(Administration.Failure) -> Int {
        guard let jid = JID(validating: text.trimmingCharacters(in: .whitespaces)), jid.localpart != nil else {
            throw .badRequest("\(text) is not a JID")
        }
        guard let kernel = kernel(of: jid), scope.covers(jid.domainpart) else { return 0 }
        let targets = kernel.registry.entries(of: jid.bare).map(\.session).filter { jid.isBare || $0.jid == jid }
        for session in targets { session.close(with: StreamError(.policyViolation, text: "disconnected by the administrator")) }
        return targets.count
    }
}
