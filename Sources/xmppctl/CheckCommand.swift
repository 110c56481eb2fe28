import ArgumentParser
import CommandLineSupport
import Foundation
import NIOCore
import NIOPosix
import XMPPCore
import XMPPServer
import XMPPServerKernel

/// `xmppctl check`: what would stop xmppd from starting, or clients from connecting, found before they meet it.
struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check the config file, the certificate and key, the data directory and the ports.",
        discussion: "Prints one line per finding (ok, note, warning, error); exits 2 when there is a warning or an error.")
    @OptionGroup var common: Common

    func run() async throws {
        var findings: [CertificateFinding] = []
        func say(_ severity: CertificateFinding.Severity?, _ message: String) {
            if let severity { findings.append(CertificateFinding(severity, message)) }
            print("\(severity?.rawValue ?? "ok"): \(message)")
        }
        let settings: ServerConfiguration
        do {
            settings = try common.settings()
            say(nil, common.configFile.map { "the config file \($0) is valid" } ?? "no config file: the defaults apply (give --config FILE)")
        } catch let failure as ToolFailure {
            say(.error, failure.message)
            throw ExitCode(ControlStatus.problemsFound)
        }
        if JID(validating: settings.domain).map({ $0.localpart == nil && $0.resourcepart == nil }) == true {
            say(nil, "the domain \(settings.domain) is valid")
        } else {
            say(.error, "the domain \(settings.domain) is not a valid domain name")
        }
        checkDataDirectory(settings.dataDirectory, say: say)
        checkCertificate(settings, say: say)
        // Each virtual host's certificate (`certificate.DOMAIN`), checked for its domain.
        for host in settings.virtualHosts.compactMap(settings.virtualHost) { checkCertificate(host, say: say) }
        for domain in settings.hostCertificates.keys.sorted() where !settings.virtualHosts.contains(domain) {
            say(.error, "certificate.\(domain) is set, but \(domain) is not one of the domains served (domains = ...)")
        }
        let running = (try? await Common.request("stats", socket: "\(settings.dataDirectory)/xmppd.sock")) != nil
        if running { say(.note, "xmppd is running with this data directory") }
        for (port, addresses) in Self.listenedPorts(settings) where port > 0 {
            for address in addresses {
                await checkPort(port, address: address, serverRunning: running, say: say)
            }
        }
        let problems = findings.filter { $0.severity != .note }.count
        guard problems == 0 else {
            print("\(problems) problem\(problems == 1 ? "" : "s") found")
            throw ExitCode(ControlStatus.problemsFound)
        }
        print("no problems found")
    }

    private func checkDataDirectory(_ directory: String, say: (CertificateFinding.Severity?, String) -> Void) {
        let files = FileManager.default
        var isDirectory: ObjCBool = false
        if files.fileExists(atPath: directory, isDirectory: &isDirectory) {
            if !isDirectory.boolValue {
                say(.error, "the data directory \(directory) is a file")
            } else if !files.isWritableFile(atPath: directory) {
                say(.error, "the data directory \(directory) is not writable by this user")
            } else {
                let database = "\(directory)/xmppd.sqlite"
                say(nil, "the data directory \(directory) is writable" + (files.fileExists(atPath: database) ? " and holds the database" : ""))
            }
        } else {
            let parent = (directory as NSString).deletingLastPathComponent
            if files.isWritableFile(atPath: parent.isEmpty ? "." : parent) {
                say(.note, "the data directory \(directory) will be created at the first start")
            } else {
                say(.error, "the data directory \(directory) does not exist and cannot be created here")
            }
        }
    }

    private func checkCertificate(_ settings: ServerConfiguration, say: (CertificateFinding.Severity?, String) -> Void) {
        let certificate: String, key: String
        switch (settings.certificatePath, settings.privateKeyPath) {
        case (let configured?, let configuredKey?):
            (certificate, key) = (configured, configuredKey)
        case (nil, nil):
            certificate = "\(settings.dataDirectory)/\(settings.domain).crt"
            key = "\(settings.dataDirectory)/\(settings.domain).key"
            guard FileManager.default.fileExists(atPath: certificate) else {
                say(.note, "no certificate configured: a self-signed one for \(settings.domain) will be generated at \(certificate)")
                return
            }
        default:
            let which = settings.storageDirectory == nil ? "certificate and private_key" : "certificate.\(settings.domain) and private_key.\(settings.domain)"
            say(.error, "give both \(which) (or neither, for a generated self-signed certificate)")
            return
        }
        let findings = CertificateCheck.check(certificatePath: certificate, keyPath: key, domain: settings.domain)
        for finding in findings { say(finding.severity, finding.message) }
        if !findings.contains(where: { $0.severity != .note }) {
            say(nil, "the certificate \(certificate) and its key are valid for \(settings.domain)")
        }
    }

    /// Whether xmppd could bind `port` on `address`: free, taken by the running xmppd, or taken by another program.
    /// Every port xmppd would listen on with `settings`, with its addresses: c2s, the web listener, the SOCKS5 proxy,
    /// server-to-server (and its direct TLS port, when set), the component port.
    static func listenedPorts(_ settings: ServerConfiguration) -> [(port: Int, addresses: [String])] {
        var ports = [settings.c2sPort, settings.c2sTLSPort, settings.httpPort, settings.httpsPort].compactMap { $0 }
            .map { (port: $0, addresses: settings.bindAddresses) }
        let proxyDomain: String = settings.kernel.value(of: ProxyModule.domain)
        if proxyDomain != "off" { ports.append((settings.kernel.value(of: ProxyModule.port), settings.bindAddresses)) }
        if settings.kernel.value(of: FederationModule.enabled) as Bool {
            ports.append((settings.kernel.value(of: FederationModule.port), settings.bindAddresses))
            let tlsPort: Int = settings.kernel.value(of: FederationModule.tlsPort)
            if tlsPort != 0 { ports.append((tlsPort, settings.bindAddresses)) }
        }
        if let componentPort = settings.componentPort, !settings.components.isEmpty {
            ports.append((componentPort, settings.componentInterfaces))
        }
        return ports
    }

    private func checkPort(_ port: Int, address: String, serverRunning: Bool,
                           say: (CertificateFinding.Severity?, String) -> Void) async {
        do {
            let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: address, port: port).get()
            try? await channel.close()
            say(nil, "port \(port) on \(address) is free")
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            if serverRunning {
                say(.note, "port \(port) on \(address) is in use (by the running xmppd, most likely)")
            } else {
                say(.warning, "port \(port) on \(address) is in use by another program: xmppd will not be able to listen there")
            }
        } catch let error as IOError where error.errnoCode == EACCES {
            say(.warning, "port \(port) needs privileges this user lacks (ports below 1024)")
        } catch {
            say(.note, "address \(address) cannot be used here (\(error)): xmppd skips it if another bind address works")
        }
    }
}
