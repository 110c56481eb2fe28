import NIOCore

/// The attributes of a `<stream:stream>` opening tag (RFC 6120 §4.7).
public struct StreamHeader: Sendable, Hashable {
    /// The `from` attribute: the sender's address.
    public var from: String?
    /// The `to` attribute: the address the stream is opened to.
    public var to: String?
    /// The stream id, set only by the receiving entity.
    public var id: String?
    /// The XMPP version; "1.0" for everything this library speaks.
    public var version: String?
    /// The default `xml:lang` of the stream.
    public var language: String?
    /// The content namespace (`jabber:client`, `jabber:server`, ...).
    public var contentNamespace: String

    /// Creates a header.
    public init(from: String? = nil, to: String? = nil, id: String? = nil, version: String? = "1.0", language: String? = nil,
                contentNamespace: String = XMLNamespace.client) {
        self.from = from
        self.to = to
        self.id = id
        self.version = version
        self.language = language
        self.contentNamespace = contentNamespace
    }

    /// Reads the header the parser reported with ``XMLStreamEvent/streamOpened(_:contentNamespace:)``.
    /// - Throws: ``StreamError`` `invalid-namespace` when the root is not `stream` in the stream namespace.
    public init(element: Element, contentNamespace: String) throws(StreamError) {
        guard element.name == "stream", element.namespace == XMLNamespace.streams else {
            throw StreamError(.invalidNamespace, text: "the root element must be stream:stream")
        }
        self.init(from: element.attribute("from"), to: element.attribute("to"), id: element.attribute("id"),
                  version: element.attribute("version"), language: element.language, contentNamespace: contentNamespace)
    }

    /// The major and minor version numbers; `(0, 9)` when absent, as RFC 6120 §4.7.5 specifies.
    public var versionNumbers: (major: Int, minor: Int)? {
        guard let version else { return (0, 9) }
        let parts = version.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let major = Int(parts[0]), let minor = Int(parts[1]), major >= 0, minor >= 0 else { return nil }
        return (major, minor)
    }

    /// Writes the XML declaration and the opening tag, with the `stream` prefix bound.
    public func write(to buffer: inout ByteBuffer) {
        buffer.writeStaticString("<?xml version='1.0'?><stream:stream")
        writeAttributes(to: &buffer)
        buffer.writeStaticString(" xmlns='")
        XMLEscaping.writeEscaped(contentNamespace, to: &buffer, inAttribute: true)
        buffer.writeStaticString("' xmlns:stream='http://etherx.jabber.org/streams'")
        // Servers declare the dialback prefix (XEP-0220 §2.1); peers such as Prosody offer dialback only then.
        if contentNamespace == XMLNamespace.server { buffer.writeStaticString(" xmlns:db='jabber:server:dialback'") }
        buffer.writeStaticString(">")
    }

    /// Writes ` from='…' to='…' id='…' version='…' xml:lang='…'` for the attributes that are set.
    func writeAttributes(to buffer: inout ByteBuffer) {
        for (name, value) in [("from", from), ("to", to), ("id", id), ("version", version), ("xml:lang", language)] {
            guard let value else { continue }
            buffer.writeString(" \(name)='")
            XMLEscaping.writeEscaped(value, to: &buffer, inAttribute: true)
            buffer.writeInteger(UInt8(ascii: "'"))
        }
    }

    /// The closing tag of a stream.
    public static let closingTag: StaticString = "</stream:stream>"
}

extension Element {
    /// Writes a top-level element inside a stream: elements in the stream namespace (`features`, `error`)
    /// use the `stream:` prefix the header declared, dialback elements on a server stream the `db:` prefix (XEP-0220
    /// §2.1: ejabberd knows `<db:result/>` only by that name), everything else inherits the content namespace.
    public func writeInStream(to buffer: inout ByteBuffer, contentNamespace: String) {
        if namespace == XMLNamespace.streams {
            writeTag(to: &buffer, prefix: "stream:", declaresNamespace: false)
        } else if namespace == XMLNamespace.dialback, contentNamespace == XMLNamespace.server {
            writeTag(to: &buffer, prefix: "db:", declaresNamespace: false)
        } else {
            write(to: &buffer, inheritedNamespace: contentNamespace)
        }
    }
}
