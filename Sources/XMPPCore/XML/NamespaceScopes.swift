/// The namespace bindings in scope while parsing: one scope per open element, innermost last.
///
/// Prefix bytes live in one flat array and URIs are looked up by index, so resolving a name touches no
/// reference-counted storage except the URI it returns.
struct NamespaceScopes: Sendable {
    /// A prefix bound to a URI; an empty prefix stands for the default namespace.
    private struct Binding: Sendable {
        var prefixStart: Int
        var prefixLength: Int
        var uri: String
    }

    private var bindings: [Binding] = [Binding(prefixStart: 0, prefixLength: 3, uri: XMLNamespace.xml)]
    private var prefixBytes: [UInt8] = Array("xml".utf8)
    private var scopeStarts: [Int] = []

    /// Bindings declared on the element being opened so far.
    var declaredInInnermostScope: Int { bindings.count - (scopeStarts.last ?? 0) }

    /// Opens the scope of a new element.
    mutating func push() {
        scopeStarts.append(bindings.count)
    }

    /// Closes the innermost scope, forgetting its declarations.
    mutating func pop() {
        let scopeStart = scopeStarts.removeLast()
        guard scopeStart < bindings.count else { return }
        prefixBytes.removeLast(prefixBytes.count - bindings[scopeStart].prefixStart)
        bindings.removeLast(bindings.count - scopeStart)
    }

    /// Declares `xmlns='uri'` (no prefix) or `xmlns:prefix='uri'` in the innermost scope, with the checks of
    /// Namespaces in XML §3.
    mutating func declare(prefix: UnsafeRawBufferPointer?, uri: String) throws(XMLStreamError) {
        guard let prefix else {
            bindings.append(Binding(prefixStart: prefixBytes.count, prefixLength: 0, uri: uri))
            return
        }
        guard let first = prefix.first else { throw .notWellFormed("empty namespace prefix") }
        try XMLParserCore.checkNameStart(first)
        _ = try XMLText.string(prefix)
        guard !uri.isEmpty else { throw .notWellFormed("a prefix cannot be bound to the empty namespace") }
        if prefix.elementsEqual("xmlns".utf8) { throw .notWellFormed("the xmlns prefix cannot be declared") }
        if prefix.elementsEqual("xml".utf8) != (uri == XMLNamespace.xml) {
            throw .notWellFormed("the xml prefix and namespace are reserved")
        }
        bindings.append(Binding(prefixStart: prefixBytes.count, prefixLength: prefix.count, uri: uri))
        prefixBytes.append(contentsOf: prefix)
    }

    /// The default namespace in scope, or the empty string.
    func defaultNamespace() -> String {
        var index = bindings.count - 1
        while index >= 0 {
            if bindings[index].prefixLength == 0 { return bindings[index].uri }
            index -= 1
        }
        return ""
    }

    /// The URI bound to `prefix`.
    func uri(for prefix: UnsafeRawBufferPointer) throws(XMLStreamError) -> String {
        var index = bindings.count - 1
        while index >= 0 {
            let start = bindings[index].prefixStart
            if bindings[index].prefixLength == prefix.count && prefix.count > 0
                && prefixBytes[start..<(start + prefix.count)].elementsEqual(prefix) {
                return bindings[index].uri
            }
            index -= 1
        }
        throw .notWellFormed("unbound namespace prefix \(String(decoding: prefix, as: UTF8.self))")
    }
}
