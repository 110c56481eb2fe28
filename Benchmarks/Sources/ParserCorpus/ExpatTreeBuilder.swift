import CExpat
import NIOCore
import XMPPCore

/// Drives libexpat (namespace processing on) over the same chunks and builds the same ``Element`` trees
/// XMPPCore's parser builds, so the two are compared doing the same work. Benchmark yardstick only.
public final class ExpatTreeBuilder {
    private var parser: XML_Parser
    private var stack: [Element] = []
    private var pendingText: [UInt8] = []
    private var depth = 0
    /// Top-level elements completed so far.
    public private(set) var elementCount = 0
    /// The last completed top-level element, kept so the work cannot be optimized away.
    public private(set) var lastElement: Element?

    /// Creates a parser; expat reports qualified names as "namespace-URI local-name".
    public init() {
        parser = XML_ParserCreateNS(nil, 0x20)
        XML_SetUserData(parser, Unmanaged.passUnretained(self).toOpaque())
        XML_SetElementHandler(parser, { userData, name, attributes in
            Unmanaged<ExpatTreeBuilder>.fromOpaque(userData!).takeUnretainedValue().start(name!, attributes!)
        }, { userData, _ in
            Unmanaged<ExpatTreeBuilder>.fromOpaque(userData!).takeUnretainedValue().end()
        })
        XML_SetCharacterDataHandler(parser, { userData, text, length in
            Unmanaged<ExpatTreeBuilder>.fromOpaque(userData!).takeUnretainedValue().characters(text!, Int(length))
        })
    }

    deinit { XML_ParserFree(parser) }

    /// Parses one chunk; returns false on a parse error.
    public func parse(_ chunk: ByteBuffer) -> Bool {
        chunk.withUnsafeReadableBytes { bytes in
            XML_Parse(parser, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(bytes.count), 0) == XML_STATUS_OK
        }
    }

    private func split(_ qualified: UnsafePointer<CChar>) -> (name: String, namespace: String) {
        let full = String(cString: qualified)
        guard let space = full.utf8.firstIndex(of: 0x20) else { return (full, "") }
        return (String(full[full.index(after: space)...]), String(full[..<space]))
    }

    private func flushText() {
        guard !pendingText.isEmpty, !stack.isEmpty else {
            pendingText.removeAll(keepingCapacity: true)
            return
        }
        stack[stack.count - 1].append(text: String(decoding: pendingText, as: UTF8.self))
        pendingText.removeAll(keepingCapacity: true)
    }

    fileprivate func start(_ qualified: UnsafePointer<CChar>, _ attributes: UnsafeMutablePointer<UnsafePointer<CChar>?>) {
        depth += 1
        guard depth >= 2 else { return }
        flushText()
        let (name, namespace) = split(qualified)
        var list: [Attribute] = []
        var index = 0
        while let attributeName = attributes[index], let value = attributes[index + 1] {
            let (local, attributeNamespace) = split(attributeName)
            list.append(Attribute(name: local, namespace: attributeNamespace, value: String(cString: value)))
            index += 2
        }
        stack.append(Element(name: name, namespace: namespace, attributes: list, children: []))
    }

    fileprivate func end() {
        defer { depth -= 1 }
        guard depth >= 2 else { return }
        flushText()
        let finished = stack.removeLast()
        if stack.isEmpty {
            elementCount += 1
            lastElement = finished
        } else {
            stack[stack.count - 1].append(finished)
        }
    }

    fileprivate func characters(_ text: UnsafePointer<CChar>, _ length: Int) {
        guard depth >= 2 else { return }
        text.withMemoryRebound(to: UInt8.self, capacity: length) { pendingText.append(contentsOf: UnsafeBufferPointer(start: $0, count: length)) }
    }
}
