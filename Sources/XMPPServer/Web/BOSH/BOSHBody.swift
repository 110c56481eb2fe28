import Crypto
import NIOCore
import XMPPCore

/// The namespaces and vocabulary of BOSH (XEP-0124) and of XMPP over it (XEP-0206).
enum BOSHVocabulary {
    /// The namespace of `<body/>`.
    static let httpbind = "http://jabber.org/protocol/httpbind"
    /// The namespace of the XMPP-specific attributes (`xmpp:version`, `xmpp:restart`).
    static let xbosh = "urn:xmpp:xbosh"
    /// The protocol version this connection manager implements.
    static let version = (major: 1, minor: 11)
    /// The largest request id a client may use (XEP-0124 §14.1: at most 2^53 - 1, so that JavaScript can count it).
    static let maxRID: UInt64 = (1 << 53) - 1
}

/// What a client's `<body/>` says: the binding attributes and the stanzas it carries (in `jabber:client`).
struct BOSHRequest: Sendable, Equatable {
    var rid: UInt64
    var sid: String?
    var to: String?
    var wait: Int?
    var hold: Int?
    var version: String?
    var xmppVersion: String?
    var language: String?
    var type: String?
    var isRestart = false
    var key: String?
    var newKey: String?
    var payloads: [Element] = []

    /// Whether the body asks to end the session.
    var isTerminate: Bool { type == "terminate" }

    /// Parses a request body. A leading XML declaration is allowed; everything else must be one `<body/>` in the
    /// httpbind namespace, within `limits`. Children in the httpbind namespace (written without `xmlns`) are
    /// `jabber:client` stanzas (XEP-0206 §6).
    static func parse(_ bytes: ByteBuffer, limits: XMLParserLimits) throws(BOSHRefusal) -> BOSHRequest {
        var bytes = bytes
        if let view = bytes.readableBytesView.firstRange(of: Array("?>".utf8)),
           bytes.readableBytesView.starts(with: Array("<?xml".utf8)) {
            bytes.moveReaderIndex(forwardBy: view.upperBound - bytes.readerIndex)
        }
        var parser = XMLStreamParser(limits: limits)
        parser.append(ByteBuffer(string: "<stream:stream xmlns:stream='\(XMLNamespace.streams)'>"))
        parser.append(bytes)
        parser.append(ByteBuffer(string: "</stream:stream>"))
        var body: Element?
        do {
            while let event = try parser.nextEvent() {
                switch event {
                case .streamOpened: continue
                case .element(let element):
                    guard body == nil else { throw BOSHRefusal.badRequest("more than one element") }
                    body = element
                case .streamClosed:
                    guard let body else { throw BOSHRefusal.badRequest("no <body/>") }
                    return try BOSHRequest(body: body)
                }
            }
        } catch let error as BOSHRefusal {
            throw error
        } catch {
            throw BOSHRefusal.badRequest("the body is not well-formed XML (\(error))")
        }
        throw BOSHRefusal.badRequest("the body is not one complete element")
    }

    init(rid: UInt64, sid: String? = nil) {
        self.rid = rid
        self.sid = sid
    }

    /// Reads a parsed `<body/>`.
    init(body: Element) throws(BOSHRefusal) {
        guard body.name == "body", body.namespace == BOSHVocabulary.httpbind else {
            throw .badRequest("the root must be <body xmlns='\(BOSHVocabulary.httpbind)'/>")
        }
        guard let ridText = body.attribute("rid"), let rid = UInt64(ridText), rid > 0, rid <= BOSHVocabulary.maxRID else {
            throw .badRequest("rid must be a whole number from 1 to 2^53-1")
        }
        self.rid = rid
        sid = body.attribute("sid")
        to = body.attribute("to")
        func number(_ name: String) throws(BOSHRefusal) -> Int? {
            guard let text = body.attribute(name) else { return nil }
            guard let value = Int(text), value >= 0 else { throw .badRequest("\(name) must be a whole number") }
            return value
        }
        wait = try number("wait")
        hold = try number("hold")
        version = body.attribute("ver")
        xmppVersion = body.attribute("version", namespace: BOSHVocabulary.xbosh)
        language = body.language
        type = body.attribute("type")
        if let type, type != "terminate" { throw .badRequest("type must be terminate") }
        isRestart = body.attribute("restart", namespace: BOSHVocabulary.xbosh) == "true"
        key = body.attribute("key")
        newKey = body.attribute("newkey")
        payloads = body.elements.map(Self.inClientNamespace)
    }

    /// `element` with every element in the httpbind namespace (inherited from `<body/>`) moved to `jabber:client`.
    static func inClientNamespace(_ element: Element) -> Element {
        var element = element
        if element.namespace == BOSHVocabulary.httpbind { element.namespace = XMLNamespace.client }
        element.children = element.children.map { node in
            if case .element(let child) = node { return .element(inClientNamespace(child)) }
            return node
        }
        return element
    }

    /// The protocol version both sides speak: the client's `ver`, when lower than ours.
    var agreedVersion: String {
        let ours = "\(BOSHVocabulary.version.major).\(BOSHVocabulary.version.minor)"
        guard let version else { return ours }
        let parts = version.split(separator: ".").compactMap { Int($0) }
        guard parts.count == 2 else { return ours }
        return (parts[0], parts[1]) < BOSHVocabulary.version ? "\(parts[0]).\(parts[1])" : ours
    }
}

/// A request refused with a terminal binding condition (XEP-0124 §17.2).
enum BOSHRefusal: Error, Equatable {
    /// The body or its attributes are wrong.
    case badRequest(String)
    /// The session is unknown, the rid out of the window, or the key wrong.
    case itemNotFound(String)
    /// The client may not have another session now (per-address limit).
    case policyViolation(String)
    /// The `to` domain is not served here.
    case hostUnknown(String)

    var condition: String {
        switch self {
        case .badRequest: "bad-request"
        case .itemNotFound: "item-not-found"
        case .policyViolation: "policy-violation"
        case .hostUnknown: "host-unknown"
        }
    }

    var reason: String {
        switch self {
        case .badRequest(let reason), .itemNotFound(let reason), .policyViolation(let reason), .hostUnknown(let reason): reason
        }
    }

    /// The `<body type='terminate' condition=.../>` answering the request.
    var response: ByteBuffer {
        BOSHResponse.body(attributes: [("type", "terminate"), ("condition", condition)])
    }
}

/// Builds the connection manager's `<body/>`s.
enum BOSHResponse {
    /// `<body/>` with `attributes` and `children`: stanzas already serialized with ``appendChild(_:to:)``.
    static func body(attributes: [(String, String)], children: ByteBuffer? = nil) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(256 + (children?.readableBytes ?? 0))
        buffer.writeString("<body xmlns='\(BOSHVocabulary.httpbind)' xmlns:xmpp='\(BOSHVocabulary.xbosh)' xmlns:stream='\(XMLNamespace.streams)'")
        for (name, value) in attributes {
            buffer.writeString(" \(name)='")
            appendEscaped(value, to: &buffer)
            buffer.writeString("'")
        }
        guard let children, children.readableBytes > 0 else {
            buffer.writeString("/>")
            return buffer
        }
        buffer.writeString(">")
        buffer.writeImmutableBuffer(children)
        buffer.writeString("</body>")
        return buffer
    }

    /// Serializes a stanza or stream element as a child of `<body/>`: `jabber:client` ones declare their namespace,
    /// stream ones (`stream:features`, `stream:error`) use the prefix `<body/>` declares.
    static func appendChild(_ element: Element, to buffer: inout ByteBuffer) {
        element.writeInStream(to: &buffer, contentNamespace: BOSHVocabulary.httpbind)
    }

    private static func appendEscaped(_ value: String, to buffer: inout ByteBuffer) {
        var escaped = ""
        for character in value {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case "'": escaped += "&apos;"
            case "\"": escaped += "&quot;"
            default: escaped.append(character)
            }
        }
        buffer.writeString(escaped)
    }
}

/// The request ids of one session (XEP-0124 §14): which rid comes next, which are early (within the window of
/// `requests`), and the responses to recent ones, so a client that lost one can ask again and gets the same.
struct BOSHRequestWindow {
    /// The highest rid handled so far.
    private(set) var lastRID: UInt64
    /// How many requests a client may have outstanding (`requests`): how far ahead a rid may be, and how many
    /// responses are kept.
    let size: UInt64
    private var responses: [UInt64: (response: ByteBuffer, key: String?)] = [:]

    init(firstRID: UInt64, size: Int) {
        self.lastRID = firstRID
        self.size = UInt64(max(1, size))
    }

    enum Position {
        /// The next rid: handle it now.
        case next
        /// Within the window but after a rid not yet received: it waits for that one.
        case early
        /// Already answered: the same response again (to a request with the same `key` as the first).
        case answered(ByteBuffer, key: String?)
        /// Already handled and not yet answered (a request held): the new request takes its place.
        case held
        /// Outside the window (too old or too far ahead): `item-not-found`.
        case outside
    }

    func position(of rid: UInt64) -> Position {
        if rid == lastRID &+ 1 { return .next }
        if rid > lastRID { return rid - lastRID <= size ? .early : .outside }
        if lastRID - rid >= size { return .outside }
        if let answered = responses[rid] { return .answered(answered.response, key: answered.key) }
        return .held
    }

    /// `rid` (the next one) is handled.
    mutating func handled(_ rid: UInt64) {
        lastRID = max(lastRID, rid)
        responses = responses.filter { lastRID - $0.key < size }
    }

    /// `rid` was answered with `response`: kept while the rid is in the window.
    mutating func answered(_ rid: UInt64, with response: ByteBuffer, key: String?) {
        guard lastRID >= rid, lastRID - rid < size else { return }
        responses[rid] = (response, key)
    }
}

/// The key sequence of a session (XEP-0124 §15): each request's `key`, hashed with SHA-1 and written in
/// lower-case hexadecimal, must equal the key of the request before (or the `newkey` it set).
struct BOSHKeySequence {
    /// The hash the next key must have; nil when the client uses no keys.
    private(set) var expected: String?

    init(newKey: String?) {
        expected = newKey?.lowercased()
    }

    /// Checks a request's keys and, when they are right, moves on to them.
    mutating func accept(key: String?, newKey: String?) -> Bool {
        guard let expected else { return true }
        guard let key, Self.hash(key) == expected else { return false }
        self.expected = (newKey ?? key).lowercased()
        return true
    }

    static func hash(_ key: String) -> String {
        Insecure.SHA1.hash(data: Array(key.utf8)).map { byte in
            let digits = Array("0123456789abcdef".utf8)
            return String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]], as: UTF8.self)
        }.joined()
    }
}
