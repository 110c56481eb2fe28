import NIOCore
import Testing
import XMPPCore
@testable import XMPPServer

/// The pure parts of BOSH: reading a client's `<body/>`, the rid window, the key sequence, the response bodies.
@Suite struct BOSHBodyTests {
    static let limits = XMLParserLimits(maxStanzaBytes: 65_536)

    static func parse(_ text: String) throws(BOSHRefusal) -> BOSHRequest {
        try BOSHRequest.parse(ByteBuffer(string: text), limits: limits)
    }

    @Test func creationRequestIsRead() throws {
        let request = try Self.parse("""
            <?xml version='1.0'?><body xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' content='text/xml; charset=utf-8' \
            rid='1573741820' to='example.com' wait='60' hold='1' ver='1.6' xml:lang='en' xmpp:version='1.0' newkey='abc'/>
            """)
        #expect(request.rid == 1_573_741_820)
        #expect(request.sid == nil)
        #expect(request.to == "example.com")
        #expect(request.wait == 60 && request.hold == 1)
        #expect(request.xmppVersion == "1.0")
        #expect(request.language == "en")
        #expect(request.newKey == "abc")
        #expect(request.agreedVersion == "1.6")
        #expect(request.payloads.isEmpty)
    }

    @Test func payloadsWithoutNamespaceAreClientStanzas() throws {
        let request = try Self.parse("""
            <body xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' rid='2' sid='s' xmpp:restart='true'>\
            <message to='a@b'><body>hi</body></message><iq xmlns='jabber:client' type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq></body>
            """)
        #expect(request.isRestart)
        #expect(request.payloads.count == 2)
        #expect(request.payloads[0].namespace == XMLNamespace.client)
        #expect(request.payloads[0].child("body")?.namespace == XMLNamespace.client)
        #expect(request.payloads[1].child("ping")?.namespace == "urn:xmpp:ping")
    }

    @Test func wrongBodiesAreBadRequests() {
        for text in [
            "<body xmlns='http://jabber.org/protocol/httpbind' sid='s'/>",  // no rid
            "<body xmlns='http://jabber.org/protocol/httpbind' rid='0'/>",
            "<body xmlns='http://jabber.org/protocol/httpbind' rid='9007199254740992'/>",  // 2^53
            "<body xmlns='http://jabber.org/protocol/httpbind' rid='x'/>",
            "<body xmlns='http://jabber.org/protocol/httpbind' rid='1' wait='-1'/>",
            "<body xmlns='http://jabber.org/protocol/httpbind' rid='1' type='other'/>",
            "<body xmlns='wrong' rid='1'/>",
            "<body xmlns='http://jabber.org/protocol/httpbind' rid='1'>",
            "<body xmlns='http://jabber.org/protocol/httpbind' rid='1'/><body xmlns='http://jabber.org/protocol/httpbind' rid='2'/>",
            "",
        ] {
            #expect(throws: BOSHRefusal.self, "\(text)") { try Self.parse(text) }
        }
        let large = "<body xmlns='http://jabber.org/protocol/httpbind' rid='1'><message><body>\(String(repeating: "x", count: 70_000))</body></message></body>"
        #expect(throws: BOSHRefusal.self) { try Self.parse(large) }
    }

    @Test func ridWindow() {
        var window = BOSHRequestWindow(firstRID: 100, size: 2)
        #expect(window.position(of: 101) == .next)
        #expect(window.position(of: 102) == .early)
        #expect(window.position(of: 103) == .outside)
        #expect(window.position(of: 100) == .held)  // the creation request, not yet answered
        #expect(window.position(of: 98) == .outside)
        window.handled(101)
        window.answered(101, with: ByteBuffer(string: "a"), key: "k")
        #expect(window.position(of: 101) == .answered(ByteBuffer(string: "a"), key: "k"))
        window.handled(102)
        window.handled(103)
        // Only the last `size` responses are kept: older rids are outside.
        #expect(window.position(of: 101) == .outside)
        #expect(window.position(of: 104) == .next)
    }

    @Test func keySequence() {
        // K(n) = sha1(K(n-1)): the client sends newkey K(3), then K(2), K(1), ...
        var keys = ["seed"]
        for _ in 0..<3 { keys.append(BOSHKeySequence.hash(keys.last!)) }
        #expect(BOSHKeySequence.hash("seed") == "92713d4709377111cf31f2a71986c411bd6cb5b0")
        var sequence = BOSHKeySequence(newKey: keys[3])
        let accepted1 = sequence.accept(key: nil, newKey: nil)
        #expect(!accepted1)
        let accepted2 = sequence.accept(key: keys[1], newKey: nil)  // skips one
        #expect(!accepted2)
        let accepted3 = sequence.accept(key: keys[2], newKey: nil)
        #expect(accepted3)
        let accepted4 = sequence.accept(key: keys[2], newKey: nil)  // the same key twice
        #expect(!accepted4)
        // Switching to a new sequence: the old key and the new one's first.
        let accepted5 = sequence.accept(key: keys[1], newKey: "fresh-hash")
        #expect(accepted5)
        let accepted6 = sequence.accept(key: keys[0], newKey: nil)
        #expect(!accepted6)
        var none = BOSHKeySequence(newKey: nil)
        let accepted7 = none.accept(key: nil, newKey: nil)
        #expect(accepted7)
    }

    @Test func responseBody() throws {
        var children = ByteBuffer()
        BOSHResponse.appendChild(try Element(xml: "<message xmlns='jabber:client' to='a@b'><body>x &amp; y</body></message>"), to: &children)
        BOSHResponse.appendChild(try Element(xml: "<features xmlns='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></features>"),
                                 to: &children)
        let body = try Element(xml: String(buffer: BOSHResponse.body(attributes: [("sid", "a'b")], children: children)))
        #expect(body.name == "body" && body.namespace == BOSHVocabulary.httpbind)
        #expect(body.attribute("sid") == "a'b")
        #expect(body.child("message", namespace: XMLNamespace.client)?.child("body")?.text == "x & y")
        #expect(body.child("features", namespace: XMLNamespace.streams) != nil)
        let empty = try Element(xml: String(buffer: BOSHRefusal.itemNotFound("x").response))
        #expect(empty.attribute("type") == "terminate" && empty.attribute("condition") == "item-not-found")
    }

    @Test func hostMetaLinksBOSH() {
        #expect(HostMeta.boshEndpoint(forWebSocket: "wss://chat.example.com/xmpp-websocket") == "https://chat.example.com/http-bind")
        #expect(HostMeta.boshEndpoint(forWebSocket: "ws://127.0.0.1:5280/xmpp-websocket") == "http://127.0.0.1:5280/http-bind")
        #expect(HostMeta.json(endpoint: "ws://h/xmpp-websocket", bosh: "http://h/http-bind").contains(#""rel":"urn:xmpp:alt-connections:xbosh","href":"http://h/http-bind""#))
        #expect(HostMeta.xrd(endpoint: "ws://h/xmpp-websocket", bosh: "http://h/http-bind").contains(#"<Link rel="urn:xmpp:alt-connections:xbosh" href="http://h/http-bind"/>"#))
    }

    @Test func configurationKeys() throws {
        var configuration = ServerConfiguration()
        #expect(configuration.bosh && configuration.boshMaxWait == 50 && configuration.boshInactivity == 60)
        try ConfigFile.apply("bosh = off\nbosh_max_wait = 20\nbosh_inactivity = 90", to: &configuration)
        #expect(!configuration.bosh && configuration.boshMaxWait == 20 && configuration.boshInactivity == 90)
        #expect(throws: (any Error).self) { try ConfigFile.set("bosh_max_wait", to: "120", in: &configuration) }
        #expect(throws: (any Error).self) { try ConfigFile.set("bosh_inactivity", to: "0", in: &configuration) }
    }
}

extension BOSHRequestWindow.Position: Equatable {
    public static func == (lhs: Self, rhs: Self) -> Bool {
        switch (lhs, rhs) {
        case (.next, .next), (.early, .early), (.held, .held), (.outside, .outside): true
        case (.answered(let a, let k1), .answered(let b, let k2)): a == b && k1 == k2
        default: false
        }
    }
}
