import NIOCore
import PropertyBased
import Testing
@testable import XMPPCore

/// Builds an element tree from a random "program" of integers, so that shrinking the program shrinks the tree.
enum TreeBuilder {
    static let names = ["message", "body", "a", "x", "query", "item", "n\u{E9}", "\u{540D}"]
    static let namespaces = ["jabber:client", "urn:xmpp:ping", "urn:a", "http://jabber.org/protocol/disco#info", ""]
    static let texts = ["hi", "<&>'\"", " \t\n", "caf\u{E9} \u{1F600}", "]]>", "a\r\nb", "&amp;", "x"]

    static func tree(from program: [UInt32]) -> Element {
        var stack = [Element("message", namespace: XMLNamespace.client)]
        for op in program {
            let choice = Int(op % 5)
            let argument = Int(op / 5)
            switch choice {
            case 0 where stack.count < 8:
                let namespace = namespaces[argument % namespaces.count]
                stack.append(Element(names[argument % names.count], namespace: namespace.isEmpty ? stack.last!.namespace : namespace))
            case 1 where stack.count > 1:
                let done = stack.removeLast()
                stack[stack.count - 1].append(done)
            case 2:
                stack[stack.count - 1].append(text: texts[argument % texts.count])
            case 3:
                let name = "attr\(argument % 4)"
                stack[stack.count - 1].setAttribute(name, to: texts[argument % texts.count])
            default:
                stack[stack.count - 1].language = argument % 2 == 0 ? "en" : "de-CH"
            }
        }
        while stack.count > 1 {
            let done = stack.removeLast()
            stack[stack.count - 1].append(done)
        }
        return stack[0]
    }
}

@Suite struct XMLPropertyTests {
    @Test func serializeThenParseGivesTheSameTree() async {
        await propertyCheck(count: 300, input: Gen<UInt32>.value(in: 0...10_000).array(of: 0...40)) { program in
            let tree = TreeBuilder.tree(from: program)
            var buffer = ByteBuffer(string: clientHeader)
            tree.write(to: &buffer, inheritedNamespace: XMLNamespace.client)
            let bytes = Array(buffer.readableBytesView)
            let whole = parse(chunks: [bytes[...]])
            #expect(whole.error == nil)
            #expect(whole.onlyElement == tree)
            // And the same at a split point derived from the program.
            let split = program.reduce(0) { ($0 &+ Int($1)) % (bytes.count + 1) }
            #expect(parse(chunks: [bytes[..<split], bytes[split...]]) == whole)
        }
    }

    @Test func anyTextSurvivesEscaping() async {
        await propertyCheck(count: 300, input: Gen.unicodeScalar(in: "\u{9}"..."\u{2FFF}").map { Character($0) }.array(of: 0...60)) { characters in
            let text = String(characters)
            let element = Element("body", namespace: XMLNamespace.client, attributes: ["a": text], text: text)
            var buffer = ByteBuffer(string: clientHeader)
            element.write(to: &buffer, inheritedNamespace: XMLNamespace.client)
            let parsed = parse(chunks: [Array(buffer.readableBytesView)[...]]).onlyElement
            // Characters XML cannot carry come back as U+FFFD; everything else is preserved exactly.
            let expected = String(String.UnicodeScalarView(text.unicodeScalars.map { scalar in
                XMLText.isXMLCharacter(scalar.value) ? scalar : "\u{FFFD}"
            }))
            #expect(parsed?.text == expected)
            #expect(parsed?.attribute("a") == expected)
        }
    }

    /// Random markup-like byte soup: whatever the parser makes of it, chunking must not change it.
    @Test func chunkingNeverChangesTheOutcome() async {
        let alphabet: [UInt8] = Array("<>/='\"a:b &;#x!?-[]\n".utf8) + [0xC3, 0xA9, 0xFF]
        await propertyCheck(count: 500, input: Gen<UInt8>.value(in: 0...UInt8(alphabet.count - 1)).array(of: 0...80), Gen<Int>.value(in: 0...80)) { indices, split in
            let soup = indices.map { alphabet[Int($0)] }
            let bytes = Array(clientHeader.utf8) + soup
            let whole = parse(chunks: [bytes[...]])
            let cut = min(Array(clientHeader.utf8).count + split, bytes.count)
            let halves = parse(chunks: [bytes[..<cut], bytes[cut...]])
            #expect(halves.events == whole.events)
            #expect(halves.error?.condition == whole.error?.condition)
            let dripped = parse(chunks: bytes.indices.map { bytes[$0...$0] })
            #expect(dripped.events == whole.events)
            #expect(dripped.error?.condition == whole.error?.condition)
        }
    }

    @Test func jidNormalizationIsIdempotent() async {
        let characters = Gen.unicodeScalar(in: " "..."\u{3FF}").map { Character($0) }.array(of: 1...12)
        await propertyCheck(count: 500, input: characters, characters) { local, domain in
            let text = String(local.filter { $0 != "/" && $0 != "@" }) + "@example" + String(domain.filter(\.isLetter)).lowercased() + ".com/r"
            guard let jid = JID(validating: text) else { return }
            #expect(JID(validating: jid.description) == jid)
            #expect(jid.bare.description + "/r" == jid.description)
        }
    }
}
