import NIOCore

extension Element {
    /// Parses one standalone element from its serialized form, as written by ``xmlString`` (stored stanzas,
    /// configuration, tests). The element must declare its own namespace; the parser's restricted-XML rules and
    /// `limits` apply (``XMLParserLimits/stored`` for what the server wrote itself).
    ///
    /// - Throws: ``XMLStreamError`` when the text is not exactly one well-formed element.
    public init(xml: String, limits: XMLParserLimits = .default) throws(XMLStreamError) {
        var parser = XMLStreamParser(limits: limits)
        parser.append(ByteBuffer(string: "<stream:stream xmlns:stream='\(XMLNamespace.streams)'>"))
        parser.append(ByteBuffer(string: xml))
        parser.append(ByteBuffer(string: "</stream:stream>"))
        var found: Element?
        while let event = try parser.nextEvent() {
            switch event {
            case .streamOpened: continue
            case .element(let element):
                guard found == nil else { throw .notWellFormed("more than one element") }
                found = element
            case .streamClosed:
                guard let found else { throw .notWellFormed("no element") }
                self = found
                return
            }
        }
        throw .notWellFormed("unterminated element")
    }
}
