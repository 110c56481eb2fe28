import ArgumentParser
import CommandLineSupport
import Foundation
import XMPPClient
import XMPPCore

/// `xmpp send-file JID PATH`: offers a file to a client (Jingle or stream initiation, through the server's SOCKS5
/// proxy or in-band) or, to a bare JID, uploads it and shares the link.
struct SendFile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send-file",
        abstract: "Send a file: to a full JID (a client) directly, to a bare JID as an upload shared in a chat message.",
        discussion: """
            --method auto (default) sends to a full JID by Jingle when the peer announces it, else by stream \
            initiation (XEP-0096), and to a bare JID by HTTP upload. Prints how the bytes went once the peer has them.
            """)
    @OptionGroup var options: ConnectionOptions
    @Argument(help: "The recipient: a full JID (user@domain/resource) for a direct transfer.") var jid: String
    @Argument(help: "The file to send.") var path: String
    @Option(help: "auto, jingle, si or upload.") var method: Method = .auto
    @Option(help: "The name the recipient sees (default: the file's own).") var name: String?
    @Option(help: "A description to go with it.") var text: String?
    @Flag(help: "Only in-band bytestreams (no SOCKS5: neither direct nor through the proxy).") var inBandOnly = false
    @Flag(help: "SOCKS5 only through the server's proxy, never a direct connection to the peer (else in-band).") var viaProxy = false

    enum Method: String, ExpressibleByArgument, CaseIterable {
        case auto, jingle, si, upload
    }

    func run() async throws {
        let recipient = try parseJID(jid)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
              FileManager.default.isReadableFile(atPath: path) else {
            throw ToolFailure.usage("cannot read the file \(path)")
        }
        let upload = method == .upload || (method == .auto && recipient.isBare)
        guard upload || !recipient.isBare else {
            throw ToolFailure.usage("\(recipient) is a bare JID", hint: "a direct transfer goes to a client: user@domain/resource (or use --method upload)")
        }
        if upload {
            return try await UploadCommand.upload(path, as: name, type: nil, sharingWith: recipient, options: options)
        }
        var moduleOptions = FileTransferModule.Options()
        if inBandOnly { moduleOptions.methods = [.inBand] } else if viaProxy { moduleOptions.methods = [.socks5, .inBand] }
        let files = FileTransferModule(options: moduleOptions)
        try await withClient(options, setUp: { _ = $0.add(files) }) { _ in
            let chosen: FileTransferProtocol? = switch method {
            case .jingle: .jingle
            case .si: .streamInitiation
            default: nil
            }
            let transfer = files.send(file: URL(fileURLWithPath: path), to: recipient, name: name, text: text, using: chosen)
            let used = try await ProgressMeter.value(of: transfer, label: "send")
            let way = switch used {
            case .direct: "direct"
            case .socks5: "SOCKS5 proxy"
            case .inBand: "in-band"
            }
            print("sent \(name ?? (path as NSString).lastPathComponent) to \(recipient) (\(way))")
        }
    }
}

/// `xmpp receive-files`: stays online and takes the files contacts (or those named) offer, into a directory.
struct ReceiveFiles: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "receive-files",
        abstract: "Receive the files offered to this client (Jingle or stream initiation) into a directory.",
        discussion: """
            Offers from the JIDs given with --accept-from (bare: any of its clients) are taken; without it, offers \
            from contacts in the roster who share their presence. Others are declined. Each file is checked against \
            the hash its sender announced; one line per file: `received PATH BYTES from JID`.
            """)
    @OptionGroup var options: ConnectionOptions
    @Option(help: "The directory the files go to (default: the current one).") var dir = "."
    @Option(name: .customLong("accept-from"), help: "Take offers from this JID (repeatable).") var acceptFrom: [String] = []
    @Option(help: "Stop after this many files.") var count: Int?
    @Option(help: "Stop after this many seconds without a file.") var idle: Int?

    func run() async throws {
        let allowed = try acceptFrom.map(parseJID)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), isDirectory.boolValue,
              FileManager.default.isWritableFile(atPath: dir) else {
            throw ToolFailure.usage("cannot write into the directory \(dir)")
        }
        let files = FileTransferModule()
        let roster = RosterModule()
        try await withClient(options, presence: true, setUp: { _ = $0.add(files); _ = $0.add(roster) }) { client in
            if let resource = client.jid?.resourcepart { Feedback.say("waiting for files as \(client.jid?.bare.description ?? "")/\(resource)") }
            var received = 0
            let offers = files.offers
            let idleLimit = idle.map { Duration.seconds($0) }
            while count.map({ received < $0 }) ?? true {
                guard let offer = try await Self.next(offers, within: idleLimit) else { break }
                let bare = offer.from.bare
                let isAllowed = allowed.isEmpty
                    ? roster.items.first(where: { $0.jid == bare }).map { $0.subscription == .both || $0.subscription == .to } ?? false
                    : allowed.contains { $0 == offer.from || ($0.isBare && $0 == bare) }
                guard isAllowed else {
                    Feedback.say("declined \(offer.file.safeName) from \(offer.from)")
                    Task { await files.decline(offer) }   // the next offer need not wait for the answer to go
                    continue
                }
                let destination = Self.freePath(for: offer.file.safeName, in: dir)
                do {
                    _ = try await ProgressMeter.value(of: files.accept(offer, saveTo: URL(fileURLWithPath: destination)), label: "receive")
                    print("received \(destination) \(offer.file.size) from \(offer.from)")
                    received += 1
                } catch {
                    // One transfer failing (the peer gone, a bad hash) does not end the others.
                    Feedback.say("failed \(offer.file.safeName) from \(offer.from): \(error)")
                }
            }
        }
    }

    /// The next offer, or nil after `idle` without one.
    static func next(_ offers: AsyncStream<IncomingFileOffer>, within idle: Duration?) async throws -> IncomingFileOffer? {
        let waiting = Task { () -> IncomingFileOffer? in
            for await offer in offers { return offer }
            return nil
        }
        guard let idle else { return await waiting.value }
        let alarm = Task {
            try await Task.sleep(for: idle)
            waiting.cancel()
        }
        defer { alarm.cancel() }
        return await waiting.value
    }

    /// `directory/name`, or `name (2)`, `name (3)`... when that exists: nothing is overwritten.
    static func freePath(for name: String, in directory: String) -> String {
        let base = (directory as NSString).appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: base) else { return base }
        let stem = (name as NSString).deletingPathExtension
        let ext = (name as NSString).pathExtension
        for number in 2... {
            let candidate = (directory as NSString).appendingPathComponent(ext.isEmpty ? "\(stem) (\(number))" : "\(stem) (\(number)).\(ext)")
            if !FileManager.default.fileExists(atPath: candidate) { return candidate }
        }
        return base
    }
}
