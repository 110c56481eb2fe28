import Foundation
import NIOCore
import NIOHTTP1

/// One request to `/admin`, read whole (the body is small: ``WebRequestHandler/maxBodyBytes`` at most).
struct AdminRequest: Sendable {
    var method: HTTPMethod
    /// The path without the query, percent-decoded segment by segment.
    var segments: [String]
    var query: [String: String]
    var headers: HTTPHeaders
    var body: ByteBuffer
    /// The client's address (as the login throttle counts it).
    var clientAddress: String
    /// Whether the request came over TLS (cookies get `Secure`).
    var isSecure: Bool

    init(head: HTTPRequestHead, body: ByteBuffer, clientAddress: String, isSecure: Bool) {
        method = head.method
        headers = head.headers
        self.body = body
        self.clientAddress = clientAddress
        self.isSecure = isSecure
        let parts = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        segments = (parts.first ?? "").split(separator: "/").map { String($0).removingPercentEncoding ?? String($0) }
        query = parts.count > 1 ? FormData.decode(String(parts[1])) : [:]
    }

    /// The fields of an `application/x-www-form-urlencoded` body.
    var form: [String: String] { FormData.decode(String(buffer: body)) }

    /// The value of cookie `name`.
    func cookie(_ name: String) -> String? {
        for header in headers[canonicalForm: "cookie"] {
            for pair in header.split(separator: ";") {
                let parts = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1).map(String.init)
                if parts.count == 2, parts[0] == name { return parts[1] }
            }
        }
        return nil
    }

    /// Whether the body is declared JSON (the API's writes must be: a cross-site form cannot send it).
    var isJSON: Bool {
        headers.first(name: "content-type")?.lowercased().hasPrefix("application/json") ?? false
    }
}

/// `application/x-www-form-urlencoded` (query strings and form bodies).
enum FormData {
    /// The fields, the first value of each name kept.
    static func decode(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map { part in
                String(part).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            guard let name = parts.first, !name.isEmpty, fields[name] == nil else { continue }
            fields[name] = parts.count > 1 ? parts[1] : ""
        }
        return fields
    }

    /// `text` as one path segment or query value.
    static func encode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~@")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
