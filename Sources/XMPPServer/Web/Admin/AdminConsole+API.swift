import Foundation
import NIOCore
import NIOHTTP1
import XMPPCore

/// `/admin/api`: the administration API as JSON (docs/ADMIN-API.md).
extension AdminConsole {
    func api(_ request: AdminRequest) async -> WebResponse {
        let path = Array(request.segments.dropFirst(2))
        let isWrite = request.method != .GET && request.method != .HEAD
        // Who asks: the console's session (writes need its CSRF token in a header), or an administrator's Basic credentials.
        // The chart's polling does not keep a console login alive.
        let scope: ServerAdministration.Scope
        if let session = sessions.session(request.cookie(Self.sessionCookie), touch: path != ["history"]) {
            if isWrite, !Self.tokensMatch(request.headers.first(name: "x-csrf-token"), session.csrfToken) {
                return Self.json(Administration.Failure(error: "forbidden", text: "writes need the X-CSRF-Token header"), status: .forbidden)
            }
            scope = session.scope
        } else {
            guard let (jid, password) = Self.basicCredentials(request.headers.first(name: "authorization")),
                  await administration.authenticate(jid, password: password, address: request.clientAddress) else {
                var response = Self.json(Administration.Failure(error: "unauthorized", text: "an administrator's JID and password (HTTP Basic) are needed"),
                                         status: .unauthorized)
                // A console page whose login ended must not make the browser ask for (and keep) Basic credentials.
                if request.cookie(Self.sessionCookie) == nil {
                    response.headers.add(name: "WWW-Authenticate", value: "Basic realm=\"xmppd admin API\", charset=\"UTF-8\"")
                }
                return response
            }
            scope = administration.scope(of: jid)
        }
        // A cross-site form can post only form encodings: writes take JSON, which needs a preflight this API never answers.
        if isWrite, request.body.readableBytes > 0, !request.isJSON {
            return Self.json(Administration.Failure.badRequest("the body must be application/json"), status: .unsupportedMediaType)
        }
        let body = (try? JSONSerialization.jsonObject(with: Data(request.body.readableBytesView))) as? [String: Any] ?? [:]
        func field(_ name: String) -> String { body[name] as? String ?? "" }
        let administration = self.administration
        do {
            switch (request.method, path) {
            case (.GET, ["overview"]): return Self.json(await administration.overview(scope: scope))
            case (.GET, ["history"]): return Self.json(administration.history)
            case (.GET, ["users"]):
                return Self.json(try await administration.accounts(matching: request.query["q"] ?? "", page: Int(request.query["page"] ?? "1") ?? 1,
                                                                   pageSize: Int(request.query["size"] ?? "50") ?? 50, scope: scope))
            case (.POST, ["users"]):
                return Self.json(try await administration.createAccount(field("jid"), password: field("password"), scope: scope), status: .created)
            case (.GET, let p) where p.count == 2 && p[0] == "users":
                return Self.json(try await administration.accountDetails(p[1], scope: scope))
            case (.PUT, let p) where p.count == 3 && p[0] == "users" && p[2] == "password",
                 (.POST, let p) where p.count == 3 && p[0] == "users" && p[2] == "password":
                try await administration.setPassword(of: p[1], to: field("password"), scope: scope)
                if let jid = try? administration.account(p[1], scope: scope).jid { sessions.close(allOf: jid) }
                return Self.json(["changed": p[1]])
            case (.DELETE, let p) where p.count == 2 && p[0] == "users":
                let jid = try administration.account(p[1], scope: scope).jid
                try await administration.deleteAccount(p[1], scope: scope)
                sessions.close(allOf: jid)
                return Self.json(["deleted": p[1]])
            case (.GET, ["sessions"]):
                let (list, total) = await administration.sessions(scope: scope, limit: Int(request.query["limit"] ?? "1000") ?? 1000)
                var response = Self.json(list)
                response.headers.add(name: "X-Total-Count", value: String(total))
                return response
            case (.DELETE, let p) where p.count == 2 && p[0] == "sessions":
                return Self.json(["kicked": try administration.kick(p[1], scope: scope)])
            case (.GET, ["rooms"]): return Self.json(await administration.rooms(scope: scope))
            case (.POST, ["rooms"]):
                let owner = field("owner")
                return Self.json(try await administration.createRoom(field("jid"), title: field("title"), owner: owner.isEmpty ? nil : owner,
                                                                     scope: scope), status: .created)
            case (.GET, let p) where p.count == 2 && p[0] == "rooms":
                return Self.json(try await administration.roomDetails(p[1], scope: scope))
            case (.DELETE, let p) where p.count == 2 && p[0] == "rooms":
                let reason = field("reason")
                try await administration.destroyRoom(p[1], reason: reason.isEmpty ? nil : reason, scope: scope)
                return Self.json(["destroyed": p[1]])
            case (.GET, ["config"]) where scope == .server: return Self.json(administration.settings)
            case (.GET, ["log"]) where scope == .server: return Self.json(administration.logLines)
            case (.GET, ["config"]), (.GET, ["log"]):
                return Self.json(Administration.Failure(error: "forbidden", text: "the server's configuration and log are for the first domain's administrators"),
                                 status: .forbidden)
            default:
                return Self.json(Administration.Failure.notFound("no such API call: \(request.method) /admin/api/\(path.joined(separator: "/"))"),
                                 status: .notFound)
            }
        } catch {
            return Self.json(error, status: HTTPResponseStatus(statusCode: error.status))
        }
    }

    /// A JSON response (dates as seconds since 1970, keys sorted).
    static func json(_ value: some Encodable, status: HTTPResponseStatus = .ok) -> WebResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .secondsSince1970
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return WebResponse.document(String(decoding: data, as: UTF8.self), status: status, contentType: "application/json")
    }

    /// The JID and password of an `Authorization: Basic` header.
    static func basicCredentials(_ header: String?) -> (JID, String)? {
        guard let header, header.lowercased().hasPrefix("basic "),
              let data = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
              let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":"),
              let jid = JID(validating: String(text[..<colon])), jid.localpart != nil else { return nil }
        return (jid, String(text[text.index(after: colon)...]))
    }
}
