import Foundation
import XMPPCore

/// External service discovery (XEP-0215): the STUN and TURN servers clients use to place calls (Jingle), from the
/// `stun_servers`/`turn_servers` config keys, with TURN credentials that expire, derived from `turn_secret` the way
/// coturn's `use-auth-secret` expects (username `EXPIRY:user`, password base64(HMAC-SHA1(secret, username))).
/// Only the server's own users may ask.
public struct ExternalServicesModule: ServerModule {
    public let name = "external_services"
    public let specifications = ["XEP-0215 1.0.0"]

    /// `urn:xmpp:extdisco:2`.
    public static let namespace = "urn:xmpp:extdisco:2"

    /// `stun_servers`: `host:port` entries, comma-separated.
    public static let stunServers = ConfigOption.string("stun_servers", default: "", "STUN servers (host:port, comma-separated) offered to clients (XEP-0215)")
    /// `turn_servers`: `host:port` entries, comma-separated.
    public static let turnServers = ConfigOption.string("turn_servers", default: "", "TURN servers (host:port, comma-separated) offered to clients with expiring credentials (XEP-0215)")
    /// `turn_secret`: the secret shared with the TURN server.
    public static let turnSecret = ConfigOption.string("turn_secret", default: "", "the secret shared with the TURN servers (coturn static-auth-secret); without it TURN is not offered")
    /// `turn_credential_ttl`: how long TURN credentials last.
    public static let credentialLifetime = ConfigOption.integer("turn_credential_ttl", default: 86_400, range: 60...604_800, "seconds TURN credentials stay valid")
    public var options: [ConfigOption] { [Self.stunServers, Self.turnServers, Self.turnSecret, Self.credentialLifetime] }

    /// One service of the configuration.
    struct Service: Sendable {
        var type: String
        var host: String
        var port: Int
    }

    /// Creates the module.
    public init() {}

    public func activate(in host: ModuleHost) {
        let configuration = host.configuration
        let secret: String = configuration.value(of: Self.turnSecret)
        let lifetime: Int = configuration.value(of: Self.credentialLifetime)
        let stun: String = configuration.value(of: Self.stunServers), turn: String = configuration.value(of: Self.turnServers)
        let services = Self.parse(stun, type: "stun") + (secret.isEmpty ? [] : Self.parse(turn, type: "turn"))
        guard !services.isEmpty else { return }
        host.addServerFeature(Self.namespace)
        host.handleIQ(Self.namespace, for: [.server]) { request in
            guard request.iq.type == .get, request.kernel.isLocal(request.from) else { throw StanzaError(.forbidden) }
            let payload = request.payload
            let wanted = payload.name == "credentials" ? payload.child("service", namespace: Self.namespace)?.attribute("type")
                : payload.attribute("type")
            guard payload.name == "services" || payload.name == "credentials" else { throw StanzaError(.badRequest) }
            let user = request.from.bare.description
            var answer = Element(payload.name, namespace: Self.namespace)
            for service in services where wanted == nil || wanted == service.type {
                answer.append(Self.element(for: service, user: user, secret: secret, lifetime: lifetime, now: Date()))
            }
            return IQReply(answer)
        }
    }

    /// `host:port` entries of a config value.
    static func parse(_ value: String, type: String) -> [Service] {
        value.split(separator: ",").compactMap { entry in
            let parts = entry.trimmingCharacters(in: .whitespaces).split(separator: ":")
            guard parts.count == 2, let port = Int(parts[1]), (1...65_535).contains(port) else { return nil }
            return Service(type: type, host: String(parts[0]), port: port)
        }
    }

    /// A `<service/>`; a TURN service carries credentials for `user` valid `lifetime` seconds from `now`.
    static func element(for service: Service, user: String, secret: String, lifetime: Int, now: Date) -> Element {
        var element = Element("service", namespace: namespace, attributes: [
            "type": service.type, "host": service.host, "port": String(service.port), "transport": "udp",
        ])
        if service.type == "turn" {
            let (username, password, expires) = credentials(user: user, secret: secret, lifetime: lifetime, now: now)
            element.setAttribute("restricted", to: "1")
            element.setAttribute("username", to: username)
            element.setAttribute("password", to: password)
            element.setAttribute("expires", to: expires.formatted(.iso8601))
        }
        return element
    }

    /// The TURN REST API credentials coturn checks: `EXPIRY:user` and base64(HMAC-SHA1(secret, username)).
    static func credentials(user: String, secret: String, lifetime: Int, now: Date) -> (username: String, password: String, expires: Date) {
        let expires = now.addingTimeInterval(Double(lifetime))
        let username = "\(Int(expires.timeIntervalSince1970)):\(user)"
        let password = Base64.encode(SCRAMHash.sha1.hmac(key: Array(secret.utf8), Array(username.utf8)))
        return (username, password, expires)
    }
}
