import Foundation
import Testing
import XMPPServer
import XMPPServerKernel

/// What the documentation claims is what the server loads: the options table of docs/CONFIG.md and
/// docs/xmppd.doap are generated from the modules' declarations, and these tests fail when a module changes
/// without the files being regenerated (`xmppd --list-options`, `xmppd --doap > docs/xmppd.doap`).
@Suite struct DocumentationTests {
    static let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs")

    /// deploy/xmppd.conf is a config xmppd accepts as it is, with the paths the systemd unit uses.
    @Test func sampleDeploymentConfigLoads() throws {
        let deploy = Self.docs.appendingPathComponent("../deploy")
        var configuration = ServerConfiguration()
        try ConfigFile.load(deploy.appendingPathComponent("xmppd.conf").path, into: &configuration)
        #expect(configuration.dataDirectory == "/var/lib/xmppd")
        #expect(configuration.httpPort == nil && configuration.httpsPort == 5281)
        #expect(configuration.bindAddresses == ["0.0.0.0", "::"])
        let unit = try String(contentsOf: deploy.appendingPathComponent("xmppd.service"), encoding: .utf8)
        #expect(unit.contains("ExecStart=/usr/local/bin/xmppd --config /etc/xmppd/xmppd.conf"))
        #expect(unit.contains("StateDirectory=xmppd") && unit.contains("User=xmppd"))
    }

    @Test func configDocumentListsEveryModuleOptionAsDeclared() throws {
        let text = try String(contentsOf: Self.docs.appendingPathComponent("CONFIG.md"), encoding: .utf8)
        let begin = try #require(text.range(of: "<!-- module-options:begin -->\n"))
        let end = try #require(text.range(of: "\n<!-- module-options:end -->"))
        #expect(String(text[begin.upperBound..<end.lowerBound]) == ModuleDocumentation.optionsTable(),
                "docs/CONFIG.md is out of date: replace its module options table with the output of xmppd --list-options")
        for module in StandardModules.all {
            for option in module.options {
                #expect(option.problem(with: option.defaultValue) == nil, "\(option.key)'s default is outside its own bounds")
            }
        }
    }

    @Test func doapFileIsWhatTheModulesDeclare() throws {
        let text = try String(contentsOf: Self.docs.appendingPathComponent("xmppd.doap"), encoding: .utf8)
        #expect(text == ModuleDocumentation.doap(), "docs/xmppd.doap is out of date: regenerate it with xmppd --doap")
        for module in StandardModules.all {
            for specification in module.specifications where specification.hasPrefix("XEP-") {
                let number = specification.prefix(8).lowercased()
                #expect(text.contains("extensions/\(number).html"), "\(specification) of \(module.name) missing")
            }
        }
    }
}
