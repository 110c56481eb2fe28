import Crypto
import _CryptoExtras
#if canImport(FoundationEssentials)
import FoundationEssentials  // DataProtocol conformance of [UInt8], which swift-crypto's APIs take
#else
import Foundation
#endif

/// The hash functions of the SCRAM family (RFC 5802 §2.2), with the primitives SCRAM builds on them.
public enum SCRAMHash: String, Sendable, Hashable, CaseIterable, Codable {
    /// SHA-1 (SCRAM-SHA-1).
    case sha1 = "SHA-1"
    /// SHA-256 (SCRAM-SHA-256, RFC 7677).
    case sha256 = "SHA-256"
    /// SHA-512 (SCRAM-SHA-512).
    case sha512 = "SHA-512"

    /// `H()`: the hash of `data`.
    public func hash(_ data: [UInt8]) -> [UInt8] {
        switch self {
        case .sha1: return Array(Insecure.SHA1.hash(data: data))
        case .sha256: return Array(SHA256.hash(data: data))
        case .sha512: return Array(SHA512.hash(data: data))
        }
    }

    /// `HMAC(key, data)`.
    public func hmac(key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        let symmetricKey = SymmetricKey(data: key)
        switch self {
        case .sha1: return Array(HMAC<Insecure.SHA1>.authenticationCode(for: data, using: symmetricKey))
        case .sha256: return Array(HMAC<SHA256>.authenticationCode(for: data, using: symmetricKey))
        case .sha512: return Array(HMAC<SHA512>.authenticationCode(for: data, using: symmetricKey))
        }
    }

    /// `Hi(password, salt, i)`: PBKDF2 with this hash's HMAC and an output as long as the hash.
    public func saltedPassword(_ password: [UInt8], salt: [UInt8], iterations: Int) -> [UInt8] {
        let function: KDF.Insecure.PBKDF2.HashFunction
        switch self {
        case .sha1: function = .insecureSHA1
        case .sha256: function = .sha256
        case .sha512: function = .sha512
        }
        // `unsafeUncheckedRounds` because the checked overload refuses SCRAM's customary 4,096 rounds.
        let key = try? KDF.Insecure.PBKDF2.deriveKey(from: password, salt: salt, using: function,
                                                     outputByteCount: outputByteCount, unsafeUncheckedRounds: iterations)
        return key?.withUnsafeBytes { Array($0) } ?? []
    }

    /// The keys SCRAM derives from a password (RFC 5802 §3): ClientKey, StoredKey = H(ClientKey), ServerKey.
    func keys(password: String, salt: [UInt8], iterations: Int) -> (clientKey: [UInt8], storedKey: [UInt8], serverKey: [UInt8]) {
        let salted = saltedPassword(SASLPassword.normalize(password), salt: salt, iterations: iterations)
        let clientKey = hmac(key: salted, Array("Client Key".utf8))
        return (clientKey, hash(clientKey), hmac(key: salted, Array("Server Key".utf8)))
    }

    /// The length of this hash's output in bytes.
    public var outputByteCount: Int {
        switch self {
        case .sha1: return 20
        case .sha256: return 32
        case .sha512: return 64
        }
    }

    /// The plain SCRAM mechanism for this hash.
    public var mechanism: SASLMechanism {
        switch self {
        case .sha1: return .scramSHA1
        case .sha256: return .scramSHA256
        case .sha512: return .scramSHA512
        }
    }

    /// The channel-binding (-PLUS) mechanism for this hash.
    public var plusMechanism: SASLMechanism {
        switch self {
        case .sha1: return .scramSHA1Plus
        case .sha256: return .scramSHA256Plus
        case .sha512: return .scramSHA512Plus
        }
    }
}

/// What a server stores to verify SCRAM logins: never the password (RFC 5802 §3).
public struct SCRAMCredentials: Sendable, Hashable, Codable {
    /// The hash these keys were derived with.
    public var hash: SCRAMHash
    /// The salt, random per account and hash.
    public var salt: [UInt8]
    /// The PBKDF2 iteration count.
    public var iterations: Int
    /// `H(ClientKey)`: verifies the client's proof.
    public var storedKey: [UInt8]
    /// `HMAC(SaltedPassword, "Server Key")`: signs the server's final message.
    public var serverKey: [UInt8]

    /// Creates credentials from stored values.
    public init(hash: SCRAMHash, salt: [UInt8], iterations: Int, storedKey: [UInt8], serverKey: [UInt8]) {
        self.hash = hash
        self.salt = salt
        self.iterations = iterations
        self.storedKey = storedKey
        self.serverKey = serverKey
    }

    /// Derives the stored keys for `password`, with a fresh random 16-byte salt unless one is given.
    public static func derive(password: String, hash: SCRAMHash, iterations: Int = 4096, salt: [UInt8]? = nil) -> SCRAMCredentials {
        let salt = salt ?? SCRAMRandom.bytes(16)
        let keys = hash.keys(password: password, salt: salt, iterations: iterations)
        return SCRAMCredentials(hash: hash, salt: salt, iterations: iterations, storedKey: keys.storedKey, serverKey: keys.serverKey)
    }
}

/// Password preparation shared by both sides of SCRAM and PLAIN: PRECIS OpaqueString (RFC 8265 §4.2), the
/// successor of SASLprep. A password the profile rejects is used as its plain UTF-8, the same on both sides.
enum SASLPassword {
    static func normalize(_ password: String) -> [UInt8] {
        if let prepared = try? PRECIS.opaqueString(password) { return Array(prepared.utf8) }
        return Array(password.utf8)
    }
}

enum SCRAMRandom {
    static func bytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    /// A printable nonce: Base64 of 24 random bytes (never contains a comma).
    static func nonce() -> String { Base64.encode(bytes(24)) }
}

/// Compares secrets in time that does not depend on where they differ (SCRAM proofs, handshakes, tokens).
public func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    guard lhs.count == rhs.count else { return false }
    var difference: UInt8 = 0
    for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
    return difference == 0
}
