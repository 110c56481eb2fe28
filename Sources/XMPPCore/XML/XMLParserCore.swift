/// The byte-level state machine behind ``XMLStreamParser``.
///
/// `advance(over:)` walks the unconsumed input once. A token cut off by the end of the input is left
/// unconsumed, and the scan position inside it is remembered, so a long token delivered in many small
/// chunks is still scanned in linear time.
struct XMLParserCore: Sendable {
    enum Phase: Sendable, Equatable {
        /// Before the root element; an XML declaration may come first.
        case prolog
        /// Inside the root element.
        case inStream
        /// The root element has been closed.
        case closed
    }

    struct Step {
        var consumed: Int
        var event: XMLStreamEvent?
    }

    /// An attribute as read from the tag, before its prefix is resolved.
    struct RawAttribute {
        var prefixEnd: Int?  // index of the colon, if the name has a prefix
        var nameStart: Int
        var nameEnd: Int
        var value: String
    }

    let limits: XMLParserLimits
    var phase: Phase = .prolog
    private(set) var failure: XMLStreamError?

    /// Whether the stream may still begin with a UTF-8 byte order mark.
    var atStreamStart = true
    /// Whether an XML declaration may still come: only as the first token of the stream.
    var declarationAllowed = true
    /// How many `]` end the text consumed so far (up to 2), to catch a `]]>` split across chunks.
    var trailingBrackets = 0
    /// Elements of the current top-level element under construction; index 0 is the stanza itself. Their
    /// children wait in `pendingNodes` (from `childStarts[i]` on) until they close, so that each element gets
    /// one array of exactly the right size instead of one that regrows as children arrive.
    var stack: [Element] = []
    var pendingNodes: [Node] = []
    var childStarts: [Int] = []
    /// Qualified names of all open elements, root included, concatenated; used to match end tags.
    var openNames: [UInt8] = []
    var openNameStarts: [Int] = []
    /// Namespace bindings in scope.
    var scopes = NamespaceScopes()
    /// Character data of the current text run that could not be turned into a string yet.
    var pendingText: [UInt8] = []
    /// Bytes consumed by the current top-level element so far.
    var stanzaBytes = 0
    /// Resume point inside an unfinished token, relative to its first byte, and the open quote there.
    var resumeOffset = 0
    var resumeQuote: UInt8 = 0
    var rawAttributes: [RawAttribute] = []
    /// The event the token just consumed completed, if any; moved out by the driving loop (returning it
    /// inside the token outcome cost a copy and a destroy of the whole tree per stanza).
    var completed: XMLStreamEvent?
    var interned = NamespaceInterner()
    var rootOpened = false
    /// Set when the root element was self-closing: the close is reported by the next call.
    var pendingClose = false

    init(limits: XMLParserLimits) {
        self.limits = limits
    }

    var depth: Int { openNameStarts.count }

    // MARK: - Driving loop

    mutating func advance(over bytes: UnsafeRawBufferPointer) -> Step {
        var position = 0
        if pendingClose {
            pendingClose = false
            closeInnermost()
            return Step(consumed: 0, event: completed.take())
        }
        if atStreamStart {
            let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
            let available = min(bytes.count, 3)
            guard bytes.prefix(available).elementsEqual(bom.prefix(available)) else {
                atStreamStart = false
                return advance(over: bytes)
            }
            if available < 3 { return Step(consumed: 0, event: nil) }
            atStreamStart = false
            position = 3
        }
        do {
            while position < bytes.count {
                let tokenStart = position
                let outcome: TokenOutcome
                if bytes[position] == UInt8(ascii: "<") {
                    outcome = try markup(bytes, at: position)
                } else {
                    outcome = try characterData(bytes, at: position)
                }
                switch outcome {
                case .needMore(let keptFrom):
                    position = keptFrom
                    try checkUnfinishedToken(length: bytes.count - position)
                    return Step(consumed: position, event: nil)
                case .consumed(let end):
                    position = end
                    declarationAllowed = false
                    resumeOffset = 0
                    resumeQuote = 0
                    if !stack.isEmpty || completed != nil {
                        stanzaBytes += end - tokenStart
                        if stanzaBytes > limits.maxStanzaBytes {
                            throw XMLStreamError.policy("stanza larger than \(limits.maxStanzaBytes) bytes")
                        }
                    }
                    if let event = completed.take() {
                        stanzaBytes = 0
                        return Step(consumed: position, event: consume event)
                    }
                }
            }
            return Step(consumed: position, event: nil)
        } catch {
            failure = error as? XMLStreamError ?? .notWellFormed("\(error)")
            return Step(consumed: position, event: nil)
        }
    }


    func checkUnfinishedToken(length: Int) throws(XMLStreamError) {
        if stanzaBytes + length > limits.maxStanzaBytes {
            throw .policy("stanza larger than \(limits.maxStanzaBytes) bytes")
        }
    }

    enum TokenOutcome {
        /// The token is incomplete; keep the bytes from this index on.
        case needMore(keptFrom: Int)
        /// The token ended just before `end`; an event it completed is in `completed`.
        case consumed(end: Int)
    }

    // MARK: - Markup

    mutating func markup(_ bytes: UnsafeRawBufferPointer, at start: Int) throws(XMLStreamError) -> TokenOutcome {
        // The text run ends here whatever follows, so it is checked now: waiting for the tag to complete would
        // make the reported error depend on how the input was chunked.
        try flushText()
        guard start + 1 < bytes.count else { return .needMore(keptFrom: start) }
        if phase == .closed { throw .notWellFormed("content after the end of the stream") }
        switch bytes[start + 1] {
        case UInt8(ascii: "/"):
            trailingBrackets = 0
            guard let end = findTagEnd(bytes, from: start) else { return .needMore(keptFrom: start) }
            try endTag(bytes, start: start + 2, end: end)
            return .consumed(end: end + 1)
        case UInt8(ascii: "?"):
            return try processingInstruction(bytes, at: start)
        case UInt8(ascii: "!"):
            return try declarationOrCDATA(bytes, at: start)
        default:
            trailingBrackets = 0
            guard let end = findTagEnd(bytes, from: start) else { return .needMore(keptFrom: start) }
            try startTag(bytes, start: start + 1, end: end)
            return .consumed(end: end + 1)
        }
    }

    /// Finds the `>` that ends the tag starting at `start`, honouring quoted attribute values, resuming a
    /// previous partial scan. Returns `nil` when the input ends first.
    mutating func findTagEnd(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        var index = start + max(resumeOffset, 1)
        var quote = resumeQuote
        while index < bytes.count {
            let byte = bytes[index]
            if quote != 0 {
                if byte == quote { quote = 0 }
            } else if byte == UInt8(ascii: ">") {
                return index
            } else if byte == UInt8(ascii: "'") || byte == UInt8(ascii: "\"") {
                quote = byte
            }
            index += 1
        }
        resumeOffset = index - start
        resumeQuote = quote
        return nil
    }
}
