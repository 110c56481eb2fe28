import ArgumentParser
import CommandLineSupport
import Foundation
import XMPPClient
import XMPPCore

/// `xmpp avatar`: the account's avatar and contacts' (XEP-0084 in PEP, XEP-0153 in the vCard).
struct AvatarCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "avatar", abstract: "Set the account's avatar, or fetch a contact's.",
        subcommands: [SetAvatar.self, GetAvatar.self])

    struct SetAvatar: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set", abstract: "Publish an image as the account's avatar, in PEP and in the vCard.")
        @OptionGroup var options: ConnectionOptions
        @Argument(help: "The image file (PNG, JPEG, GIF or WebP).") var file: String
        @Option(help: "The MIME type (default: from the file name's extension).") var type: String?

        func run() async throws {
            guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
            guard let mime = type ?? Self.mimeType(of: file) else {
                throw ValidationError("cannot tell the image type of \(file); give --type, e.g. --type image/png")
            }
            let avatar = Avatar(type: mime, data: Array(data))
            let avatars = AvatarModule(notifiesOfPEPAvatars: false)
            try await withClient(options, setUp: { $0.add(VCardModule()); $0.add(avatars) }) { _ in
                try await avatars.publish(avatar, via: [.pep, .vCard])
                print("published avatar \(avatar.hash) (\(mime), \(data.count) bytes)")
            }
        }

        static func mimeType(of file: String) -> String? {
            switch URL(fileURLWithPath: file).pathExtension.lowercased() {
            case "png": "image/png"
            case "jpg", "jpeg": "image/jpeg"
            case "gif": "image/gif"
            case "webp": "image/webp"
            default: nil
            }
        }
    }

    struct GetAvatar: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "get", abstract: "Fetch a contact's avatar (PEP first, then the vCard): print its hash, type and size; --out saves the image.")
        @OptionGroup var options: ConnectionOptions
        @Argument(help: "The contact's JID.") var jid: String
        @Option(help: "Write the image to this file.") var out: String?

        func run() async throws {
            let contact = try parseJID(jid)
            let avatars = AvatarModule(notifiesOfPEPAvatars: false)
            try await withClient(options, setUp: { $0.add(VCardModule()); $0.add(avatars) }) { _ in
                guard let avatar = try await avatars.avatar(of: contact) else {
                    throw ToolFailure("\(contact) has no avatar", status: ExitStatus.refused)
                }
                if let out {
                    guard FileManager.default.createFile(atPath: out, contents: Data(avatar.data)) else {
                        throw ToolFailure("cannot write \(out)", status: ExitStatus.usage)
                    }
                }
                print("\(avatar.hash)\t\(avatar.type)\t\(avatar.data.count)")
            }
        }
    }
}
