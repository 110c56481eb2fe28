import ArgumentParser
import CommandLineSupport
import Foundation
import XMPPClient
import XMPPCore

/// `xmpp upload PATH [--to JID]`: HTTP file upload (XEP-0363); prints the URL the file is served at.
struct UploadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upload",
        abstract: "Upload a file to the server's HTTP upload service and print its URL; --to shares it in a chat message.")
    @OptionGroup var options: ConnectionOptions
    @Argument(help: "The file to upload.") var path: String
    @Option(help: "Share the URL with this JID: a chat message with the URL, as a file (XEP-0066).") var to: String?
    @Option(help: "The MIME type (default: from the file name's extension, else application/octet-stream).") var type: String?
    @Option(help: "The name to upload it under (default: the file's own).") var name: String?

    func run() async throws {
        let recipient = try to.map(parseJID)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
              FileManager.default.isReadableFile(atPath: path) else {
            throw ToolFailure.usage("cannot read the file \(path)")
        }
        try await Self.upload(path, as: name, type: type, sharingWith: recipient, options: options)
    }

    /// Uploads the file at `path` (named `name`, of MIME `type`), prints its URL, and shares it with `recipient`.
    static func upload(_ path: String, as name: String?, type: String?, sharingWith recipient: JID?, options: ConnectionOptions) async throws {
        let uploads = HTTPUploadModule()
        let chat = ChatModule(answersReceiptRequests: false, queuesWhileOffline: false)
        try await withClient(options, setUp: { $0.add(chat); $0.add(uploads) }) { _ in
            let transfer = uploads.upload(file: URL(fileURLWithPath: path), filename: name, contentType: type)
            let url = try await ProgressMeter.value(of: transfer, label: "upload")
            print(url.absoluteString)
            if let recipient {
                try await uploads.share(url, with: recipient)
                Feedback.say("shared with \(recipient)")
            }
        }
    }
}

/// A progress line on standard error while a transfer runs, only when standard error is a terminal (scripts see
/// nothing of it); the line is cleared at the end.
enum ProgressMeter {
    /// The transfer's outcome, with its progress shown meanwhile (and the line cleared before it returns or throws).
    static func value<Outcome: Sendable>(of transfer: FileTransfer<Outcome>, label: String) async throws -> Outcome {
        let meter = Task { await show(transfer.progress, label: label) }
        do {
            let outcome = try await transfer.value
            await meter.value
            return outcome
        } catch {
            await meter.value
            throw error
        }
    }

    static func show(_ progress: AsyncStream<TransferProgress>, label: String) async {
        guard isatty(STDERR_FILENO) != 0 else {
            for await _ in progress {}
            return
        }
        var shown = false
        var lastPercent = -1
        for await step in progress {
            guard let fraction = step.fraction else { continue }
            let percent = Int(fraction * 100)
            guard percent != lastPercent else { continue }
            lastPercent = percent
            let line = "\r\(label) \(percent)% (\(ByteCountFormatter.string(fromByteCount: step.completed, countStyle: .file)) of "
                + "\(ByteCountFormatter.string(fromByteCount: step.total ?? 0, countStyle: .file)))"
            FileHandle.standardError.write(Data(line.utf8))
            shown = true
        }
        if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
