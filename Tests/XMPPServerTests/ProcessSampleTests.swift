import Foundation
import Testing
import XMPPBench

/// The server CPU figures of xmpp-bench come from the server's process tree in `/proc`.
@Suite struct ProcessSampleTests {
    /// A child that used CPU and ended between two samples must not take its past off the tree's figure: the
    /// difference of totals went negative that way when a bench smoke test sampled the test process, whose tree holds
    /// other tests' children. Here the tree is a parent of this test's own, with one busy child.
    @Test(.timeLimit(.minutes(1)))
    func aChildThatEndsBetweenSamplesDoesNotMakeTheFigureNegative() async throws {
        let parent = Process()
        parent.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        let busy = "import time\nend = time.process_time() + 0.5\nwhile time.process_time() < end: pass\ntime.sleep(60)"
        // The parent waits for (and reaps) the child, then idles on, so the tree outlives the child.
        parent.arguments = ["-c", "import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', sys.argv[1]]).wait()\ntime.sleep(60)", busy]
        try parent.run()
        defer { kill(parent.processIdentifier, SIGKILL) }
        let root = parent.processIdentifier
        var before = try #require(ProcessSample.of(pid: root))
        var child: Int32?
        while true {
            child = before.cpuByProcess.first { $0.key != root && $0.value >= 0.4 }?.key
            if child != nil { break }
            try await Task.sleep(for: .milliseconds(50))
            before = try #require(ProcessSample.of(pid: root))
        }
        let busyChild = try #require(child)
        kill(busyChild, SIGKILL)
        var after = try #require(ProcessSample.of(pid: root))
        for _ in 0..<500 where after.cpuByProcess[busyChild] != nil {
            try await Task.sleep(for: .milliseconds(20))
            after = try #require(ProcessSample.of(pid: root))
        }
        #expect(after.cpuByProcess[busyChild] == nil, "its parent reaped it")
        #expect(after.cpuSeconds - before.cpuSeconds < 0, "the plain difference, which this guards against")
        #expect(after.cpuSeconds(since: before) >= 0)
        #expect(after.cpuSeconds(since: before) < 0.4, "the ended child's past is not counted")
    }
}
