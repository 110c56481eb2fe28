import NIOCore
import Testing
@testable import XMPPCore

/// What a parser made of a whole input: its events, then the error that stopped it, if any.
struct ParseOutcome: Equatable, CustomStringConvertible {
    var events: [XMLStreamEvent]
    var error: XMLStreamError?

    var description: String { "\(events) error: \(String(describing: error))" }

    /// The only element event, for tests of a single stanza.
    var onlyElement: Element? {
        let elements = events.compactMap { if case .element(let e) = $0 { return e } else { return nil } }
        return elements.count == 1 ? elements[0] : nil
    }
}

/// Feeds `chunks` one after the other, pulling every event after each.
func parse(chunks: [ArraySlice<UInt8>], limits: XMLParserLimits = .default) -> ParseOutcome {
    var parser = XMLStreamParser(limits: limits)
    var outcome = ParseOutcome(events: [])
    for chunk in chunks {
        parser.append(ByteBuffer(bytes: chunk))
        do {
            while let event = try parser.nextEvent() { outcome.events.append(event) }
        } catch {
            outcome.error = error
            return outcome
        }
    }
    // A pending close of a self-closing root needs one more pull with no new bytes.
    do {
        while let event = try parser.nextEvent() { outcome.events.append(event) }
    } catch {
        outcome.error = error
    }
    return outcome
}

/// Parses `input` in one piece, then again split in two at every byte boundary, then one byte at a time,
/// and records a test issue if any of those gives other events or another error condition.
/// Returns the outcome of the one-piece parse.
@discardableResult
func parseEverySplit(_ input: String, limits: XMLParserLimits = .default, sourceLocation: SourceLocation = #_sourceLocation) -> ParseOutcome {
    parseEverySplit(Array(input.utf8), limits: limits, sourceLocation: sourceLocation)
}

@discardableResult
func parseEverySplit(_ bytes: [UInt8], limits: XMLParserLimits = .default, sourceLocation: SourceLocation = #_sourceLocation) -> ParseOutcome {
    let whole = parse(chunks: [bytes[...]], limits: limits)
    func same(_ other: ParseOutcome) -> Bool {
        other.events == whole.events && other.error?.condition == whole.error?.condition
    }
    for split in 0...bytes.count {
        let outcome = parse(chunks: [bytes[..<split], bytes[split...]], limits: limits)
        if !same(outcome) {
            Issue.record("split at \(split) gave \(outcome), whole input gave \(whole)", sourceLocation: sourceLocation)
            break
        }
    }
    let dripped = parse(chunks: bytes.indices.map { bytes[$0...$0] }, limits: limits)
    if !same(dripped) {
        Issue.record("byte by byte gave \(dripped), whole input gave \(whole)", sourceLocation: sourceLocation)
    }
    return whole
}

let clientHeader = "<?xml version='1.0'?><stream:stream to='example.com' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"

/// Wraps top-level elements in a client stream header.
func inStream(_ body: String) -> String { clientHeader + body }
