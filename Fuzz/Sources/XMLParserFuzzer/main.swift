import CFuzzDriver
import NIOCore
import XMPPCore

#if canImport(Glibc)
import Glibc
#endif

/// One fuzz input: the first byte picks a chunk size, the rest is a client stream body after a fixed header.
/// Checks, beyond "does not crash": chunked and whole parsing agree, and every parsed element survives
/// serialize-then-parse unchanged. Any disagreement traps, which libFuzzer reports as a crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let chunkSize = Int(data[0] % 16) + 1
    let header = Array("<stream:stream to='a' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>".utf8)
    let input = header + Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let limits = XMLParserLimits(maxStanzaBytes: 4096, maxDepth: 16, maxAttributes: 16, maxNameBytes: 64, maxTextBytes: 2048)

    let whole = run(input, chunkSize: input.count, limits: limits)
    let chunked = run(input, chunkSize: chunkSize, limits: limits)
    // A token that is both too long and malformed may trip the size limit before its end arrives, so
    // policy-violation from the chunked run is the one allowed difference.
    if chunked.error != .policyViolation {
        precondition(whole.events == chunked.events, "chunking changed the events")
        precondition(whole.error == chunked.error, "chunking changed the error")
    }

    for case .element(let element) in whole.events {
        var buffer = ByteBuffer(bytes: header)
        element.write(to: &buffer, inheritedNamespace: "jabber:client")
        let again = run(Array(buffer.readableBytesView), chunkSize: 7, limits: XMLParserLimits())
        precondition(again.error == nil, "serialized output does not parse")
        precondition(again.events.last == .element(element), "round trip changed the element")
    }
    return 0
}

private func run(_ bytes: [UInt8], chunkSize: Int, limits: XMLParserLimits) -> (events: [XMLStreamEvent], error: StreamError.Condition?) {
    var parser = XMLStreamParser(limits: limits)
    var events: [XMLStreamEvent] = []
    var offset = 0
    while offset < bytes.count {
        let end = min(offset + chunkSize, bytes.count)
        parser.append(ByteBuffer(bytes: bytes[offset..<end]))
        offset = end
        do {
            while let event = try parser.nextEvent() { events.append(event) }
        } catch {
            return (events, error.condition)
        }
    }
    return (events, nil)
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
    guard let data else { return 0 }
    return fuzzOne(data, size)
})
