import NIOCore

/// A realistic client stream for parser benchmarks: chat messages with receipts, chat states and origin ids,
/// presences with caps and avatar hashes, roster results and pings, in the proportions a busy server sees.
public struct Corpus: Sendable {
    /// The stream header, parsed once per run.
    public let header: ByteBuffer
    /// The stanzas, cut into the chunk size a socket read delivers.
    public let chunks: [ByteBuffer]
    /// Total bytes of header and stanzas.
    public let byteCount: Int
    /// Number of top-level elements in the corpus.
    public let stanzaCount: Int

    /// Builds the corpus deterministically.
    /// - Parameters:
    ///   - stanzas: How many top-level elements.
    ///   - chunkSize: Bytes per chunk, as read from a socket.
    public init(stanzas: Int = 4000, chunkSize: Int = 16_384) {
        let headerText = "<?xml version='1.0'?><stream:stream to='example.com' version='1.0' xml:lang='en' "
            + "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
        var body = ""
        for index in 0..<stanzas {
            switch index % 10 {
            case 0..<6: body += Self.message(index)
            case 6..<9: body += Self.presence(index)
            default: body += index % 20 == 9 ? Self.roster(index) : Self.ping(index)
            }
        }
        let bytes = Array(body.utf8)
        var chunks: [ByteBuffer] = []
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + chunkSize, bytes.count)
            chunks.append(ByteBuffer(bytes: bytes[offset..<end]))
            offset = end
        }
        self.header = ByteBuffer(string: headerText)
        self.chunks = chunks
        self.byteCount = headerText.utf8.count + bytes.count
        self.stanzaCount = stanzas
    }

    static func message(_ i: Int) -> String {
        "<message from='user\(i % 97)@example.com/phone' to='user\(i % 89)@example.com' type='chat' id='msg-\(i)' xml:lang='en'>"
            + "<body>Hello number \(i), how are you doing today? Let&apos;s meet at the caf\u{E9} at \(i % 24):00 &amp; talk.</body>"
            + "<request xmlns='urn:xmpp:receipts'/><active xmlns='http://jabber.org/protocol/chatstates'/>"
            + "<origin-id xmlns='urn:xmpp:sid:0' id='5f1c2a\(i)-4e3b-9d7a'/></message>"
    }

    static func presence(_ i: Int) -> String {
        "<presence from='user\(i % 97)@example.com/laptop' to='user\(i % 89)@example.com'><show>away</show>"
            + "<status>In a meeting, back at \(i % 12)</status><priority>5</priority>"
            + "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://gajim.org' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/>"
            + "<x xmlns='vcard-temp:x:update'><photo>01b87fcd030b72895ff8e88db57ec525450f000d</photo></x></presence>"
    }

    static func roster(_ i: Int) -> String {
        "<iq type='result' id='roster-\(i)' to='user\(i % 97)@example.com/phone'><query xmlns='jabber:iq:roster' ver='ver\(i)'>"
            + "<item jid='romeo@example.net' name='Romeo' subscription='both'><group>Friends</group></item>"
            + "<item jid='mercutio@example.org' name='Mercutio' subscription='from'/>"
            + "<item jid='benvolio@example.org' name='Benvolio' subscription='none' ask='subscribe'/></query></iq>"
    }

    static func ping(_ i: Int) -> String {
        "<iq type='get' id='ping-\(i)' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq>"
    }
}
