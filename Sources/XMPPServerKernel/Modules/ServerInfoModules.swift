import Foundation
import Logging
import XMPPCore

/// XMPP Ping (XEP-0199): the server answers pings to itself and to accounts.
public struct PingModule: ServerModule {
    public let name = "ping"
    public let specifications = ["XEP-0199 2.0.1"]
    /// `urn:xmpp:ping`.
    public static let namespace = "urn:xmpp:ping"

    /// Creates the module.
    public init() {}

    public func activate(in host: ModuleHost) {
        host.addServerFeature(Self.namespace)
        host.handleIQ(Self.namespace, for: [.server, .ownAccount, .otherAccount]) { request in
            guard request.iq.type == .get else { throw StanzaError(.badRequest) }
            return IQReply()
        }
    }
}

/// Software Version (XEP-0092) of the server. The operating system is not disclosed.
public struct VersionModule: ServerModule {
    public let name = "version"
    public let specifications = ["XEP-0092 1.1"]
    /// `jabber:iq:version`.
    public static let namespace = "jabber:iq:version"

    /// Creates the module.
    public init() {}

    public func activate(in host: ModuleHost) {
        let (software, version) = (host.configuration.softwareName, host.configuration.softwareVersion)
        host.addServerFeature(Self.namespace)
        host.handleIQ(Self.namespace, for: [.server]) { request in
            guard request.iq.type == .get else { throw StanzaError(.badRequest) }
            return IQReply(Element("query", namespace: Self.namespace, children: [
                .element(Element("name", namespace: Self.namespace, text: software)),
                .element(Element("version", namespace: Self.namespace, text: version)),
            ]))
        }
    }
}

/// Entity Time (XEP-0202) of the server, in UTC.
public struct TimeModule: ServerModule {
    public let name = "time"
    public let specifications = ["XEP-0202 2.0"]
    /// `urn:xmpp:time`.
    public static let namespace = "urn:xmpp:time"

    /// Creates the module.
    public init() {}

    public func activate(in host: ModuleHost) {
        host.addServerFeature(Self.namespace)
        host.handleIQ(Self.namespace, for: [.server]) { request in
            guard request.iq.type == .get else { throw StanzaError(.badRequest) }
            return IQReply(Element("time", namespace: Self.namespace, children: [
                .element(Element("tzo", namespace: Self.namespace, text: "+00:00")),
                .element(Element("utc", namespace: Self.namespace, text: Date().formatted(.iso8601))),
            ]))
        }
    }
}

/// Last Activity (XEP-0012): the server's uptime, and for an account the time since its last session ended
/// (0 while online), shown only to the owner and to subscribers.
public struct LastActivityModule: ServerModule {
    public let name = "last"
    public let specifications = ["XEP-0012 2.0"]
    /// `jabber:iq:last`.
    public static let namespace = "jabber:iq:last"
    private let started = Date()

    /// Creates the module.
    public init() {}

    public func activate(in host: ModuleHost) {
        host.addServerFeature(Self.namespace)
        host.addAccountFeature(Self.namespace)
        let started = self.started
        host.onSessionEnded { session, _, remaining, kernel in
            guard remaining == 0, let user = session.jid.localpart else { return }
            await Self.record(lastSessionOf: user, kernel: kernel)
        }
        host.onAccountDeleted { user, kernel in
            try await kernel.storage.userData.setValue(nil, for: Self.storageKey, of: user)
        }
        host.handleIQ(Self.namespace, for: [.server, .ownAccount, .otherAccount]) { request in
            guard request.iq.type == .get else { throw StanzaError(.badRequest) }
            guard let owner = request.to.localpart else {
                return IQReply(Self.query(seconds: Int(Date().timeIntervalSince(started)), status: nil))
            }
            let kernel = request.kernel
            if !request.isFromOwner {
                let item = try await kernel.storage.rosters.item(request.from.bare, of: owner)
                guard item?.contactReceivesPresence == true else { throw StanzaError(.forbidden) }
            }
            if kernel.registry.sessionCount(of: request.to) > 0 { return IQReply(Self.query(seconds: 0, status: nil)) }
            guard let bytes = try await kernel.storage.userData.value(Self.storageKey, of: owner) else {
                throw StanzaError(.itemNotFound)
            }
            let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
            let ended = TimeInterval(lines.first.flatMap { Int($0) } ?? 0)
            let status = lines.count > 1 && !lines[1].isEmpty ? String(lines[1]) : nil
            return IQReply(Self.query(seconds: max(0, Int(Date().timeIntervalSince1970 - ended)), status: status))
        }
    }

    /// The per-user document holding when the last session ended and its status.
    static let storageKey = "last"

    /// Stores when the account's last session ended (not for an account that is gone or going: its record would
    /// outlive it).
    static func record(lastSessionOf user: String, kernel: ServerKernel) async {
        guard !kernel.isGone(user) else { return }
        let record = "\(Int(Date().timeIntervalSince1970))\n"
        do {
            try await kernel.storage.userData.setValue(Array(record.utf8), for: storageKey, of: user)
        } catch {
            kernel.logger.error("last activity not recorded", metadata: ["user": "\(user)", "error": "\(error)"])
        }
    }

    static func query(seconds: Int, status: String?) -> Element {
        Element("query", namespace: namespace, attributes: ["seconds": String(seconds)], text: status ?? "")
    }
}

/// The IM modules of the kernel target, in activation order. The server's full list (with the hosted services
/// of other targets, such as multi-user chat) is `StandardModules.all` in XMPPServer.
public enum CoreModules {
    /// Every IM module of the kernel target.
    public static var all: [any ServerModule] {
        [BlockingModule(), RosterModule(), RegistrationModule(), VCardModule(), DiscoModule(), PingModule(), VersionModule(),
         TimeModule(), LastActivityModule(), OfflineModule(), CarbonsModule(), MessageArchiveModule(), AdHocCommandsModule(),
         ServiceAdministrationModule(), ContactAddressesModule(), ExternalServicesModule(), PrivateStorageModule()]
    }
}
