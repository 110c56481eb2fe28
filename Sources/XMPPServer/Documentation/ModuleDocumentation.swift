import XMPPServerKernel

/// What the server claims, generated from what it loads: the table of module options in docs/CONFIG.md and the
/// DOAP description docs/xmppd.doap (`xmppd --list-options`, `xmppd --doap`). Tests keep both files equal to the
/// output, so a module's declarations and the documentation cannot drift apart.
public enum ModuleDocumentation {
    /// What the server implements outside the modules: the core RFCs in the kernel and the c2s transport.
    public static let coreSpecifications = ["RFC 6120", "RFC 6121", "RFC 7395", "RFC 7622", "XEP-0114", "XEP-0124 1.11", "XEP-0156", "XEP-0206 1.4", "XEP-0368", "XEP-0440"]

    /// The Markdown table of every module's options: key, default, allowed values, module, meaning.
    public static func optionsTable(modules: [any ServerModule] = StandardModules.all) -> String {
        var lines = ["| key | default | values | module | meaning |", "| --- | --- | --- | --- | --- |"]
        for module in modules {
            for option in module.options {
                let defaultValue = option.defaultValue.isEmpty ? "(empty)" : "`\(option.defaultValue)`"
                lines.append("| `\(option.key)` | \(defaultValue) | \(values(of: option)) | \(module.name) | \(option.summary) |")
            }
        }
        return lines.joined(separator: "\n")
    }

    private static func values(of option: ConfigOption) -> String {
        switch option.kind {
        case .integer(let range): "\(range.lowerBound) to \(range.upperBound)"
        case .boolean: "true, false"
        case .string: "text"
        case .choice(let choices): choices.joined(separator: ", ")
        }
    }

    /// A DOAP description (RDF/XML with the XMPP extensions of XEP-0453) of the server: the core specifications
    /// and each module's, with the module that implements it.
    public static func doap(modules: [any ServerModule] = StandardModules.all, version: String = "0.1.0") -> String {
        var lines = [
            "<?xml version='1.0' encoding='UTF-8'?>",
            "<!-- Generated from the modules xmppd loads (xmppd with the doap flag); a test keeps this file in step. -->",
            "<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#' xmlns='http://usefulinc.com/ns/doap#'",
            "         xmlns:xmpp='https://linkmauve.fr/ns/xmpp-doap#'>",
            "  <Project>",
            "    <name>xmppd</name>",
            "    <shortdesc>The SwiftXMPP server</shortdesc>",
            "    <programming-language>Swift</programming-language>",
            "    <release><Version><revision>\(version)</revision></Version></release>",
        ]
        var entries = coreSpecifications.map { ($0, "core") }
        for module in modules { entries += module.specifications.map { ($0, module.name) } }
        for (specification, module) in entries { lines += implements(specification, module: module) }
        lines += ["  </Project>", "</rdf:RDF>"]
        return lines.joined(separator: "\n") + "\n"
    }

    /// One `<implements/>` for a specification written as `XEP-0191 1.3`, `RFC 6121 §2` or `RFC 6120`.
    private static func implements(_ specification: String, module: String) -> [String] {
        let words = specification.split(separator: " ").map(String.init)
        if words.first == "RFC", words.count > 1 {
            var result = ["    <implements rdf:resource='https://www.rfc-editor.org/info/rfc\(words[1])'/>"]
            if words.count > 2 { result.append("    <!-- RFC \(words[1]) \(words[2...].joined(separator: " ")): \(module) -->") }
            return result
        }
        guard let name = words.first, name.hasPrefix("XEP-") else { return ["    <!-- \(specification): \(module) -->"] }
        var result = ["    <implements>", "      <xmpp:SupportedXep>",
                      "        <xmpp:xep rdf:resource='https://xmpp.org/extensions/\(name.lowercased()).html'/>"]
        if words.count > 1 { result.append("        <xmpp:version>\(words[1])</xmpp:version>") }
        result += ["        <xmpp:status>complete</xmpp:status>", "        <xmpp:note>\(module)</xmpp:note>",
                   "      </xmpp:SupportedXep>", "    </implements>"]
        return result
    }
}
