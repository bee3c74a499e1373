package io.tether.wire;

import io.tether.cluster.ClusterMessages;
import io.tether.cluster.NodeIdentity;
import io.tether.cluster.live.LivePush;
import io.tether.cluster.owner.OwnerInfo;
import io.tether.cluster.routing.Activate;
import io.tether.cluster.routing.StreamRequest;
import io.tether.stream.AppendEffect;
import io.tether.stream.AppendSpec;
import io.tether.stream.CreateSpec;
import io.tether.stream.Fence;
import io.tether.stream.Offset;
import io.tether.stream.Outcome;
import io.tether.stream.OwnerAppends;
import io.tether.stream.ProducerHeaders;
import io.tether.stream.ReadStart;
import io.tether.stream.RingLimits;
import io.tether.stream.StreamLog;
import io.tether.stream.StreamProcessors;
import io.tether.stream.StreamReply;
import io.tether.stream.StreamSettings;
import io.vertx.core.buffer.Buffer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Messages as the first framed version wrote them ({@code src/test/resources/wire/v1.bin}) still read
 * as what they meant: the replicated stream state, an append's backup effect, an answer, a request, a
 * live push, an activation, an owner's description. A change that removes, reorders or re-types a field
 * fails here; a change that appends one passes once the expected values below name the zero value the
 * field reads as in an old message. Never regenerate the file to make this pass: it is what nodes of the
 * previous version send. ({@code -Dtether.wire.writeSamples=true} writes it, once, for a new frame version.)
 */
class WireCompatibilityTest {

  private static final long NOW = 1_796_000_000_000L;
  private static final Path SAMPLES = Path.of("src/test/resources/wire/v1.bin");

  @BeforeAll
  static void register() {
    StreamProcessors.register();
    ClusterMessages.register();
  }

  /** The messages of the sample file, in order, with the values they were written with. */
  private static List<WireMessage> samples() {
    StreamLog log = StreamLog.create("chat/s1",
        new CreateSpec(new StreamSettings("application/json", 3600, NOW + 3_600_000), List.of(bytes("[1]"), bytes("[2]")),
            false, null),
        List.of(), null, new RingLimits(1000, 1 << 20), 42, new Fence(3, 77), "node-a", NOW);
    return List.of(
        log,
        new AppendEffect(bytes("hello"), "producer-1", 2, 5, "seq-9", false, NOW, 7),
        StreamReply.of(Outcome.APPENDED).next(new Offset(8, 120)).start(new Offset(7, 100)).closed(false)
            .producer(2, 5).owner(3, "node-a").incarnation(42).build(),
        new StreamRequest.Append(new AppendSpec(bytes("x"), "text/plain", false, "s-1",
            new ProducerHeaders("producer-1", 2, 6))),
        new LivePush("chat/s1", 42, new long[] {5, 9}, 3, new Offset(8, 120), List.of(bytes("a"), bytes("bc")), false,
            LivePush.SIGNAL_NONE),
        new Activate("chat/s1", new StreamRequest.Subscribe("node-b", 12, new ReadStart.At(new Offset(2, 30)), 65536), true),
        new OwnerInfo(new NodeIdentity("node-a", 8080, 1234), 3, new Offset(0, 0), new Offset(8, 120), 2));
  }

  @Test
  void messagesWrittenByTheFirstFramedVersionReadAsWhatTheyMeant() throws IOException {
    List<WireMessage> expected = samples();
    if (Boolean.getBoolean("tether.wire.writeSamples")) {
      Buffer out = Buffer.buffer();
      for (WireMessage m : expected) {
        byte[] framed = BufferWire.encode(m);
        out.appendInt(framed.length).appendBytes(framed);
      }
      Files.write(SAMPLES, out.getBytes());
    }
    List<WireMessage> read = new ArrayList<>();
    try (InputStream in = WireCompatibilityTest.class.getResourceAsStream("/wire/v1.bin")) {
      assertThat(in).as("sample file").isNotNull();
      Buffer all = Buffer.buffer(in.readAllBytes());
      int pos = 0;
      while (pos < all.length()) {
        int length = all.getInt(pos);
        read.add(BufferWire.decode(all.getBytes(pos + 4, pos + 4 + length)));
        pos += 4 + length;
      }
    }
    assertThat(read).hasSameSizeAs(expected);
    // The stream state is not a value type: compare what it encodes to now, but for the record of the
    // owner's appends that a later version added at its end (no append recorded: token, floor, tail, count).
    byte[] readLog = BufferWire.encode(read.get(0));
    byte[] expectedLog = BufferWire.encode(expected.get(0));
    int record = 8 + 8 + 8 + 4;
    assertThat(readLog).hasSameSizeAs(expectedLog);
    assertThat(Arrays.copyOf(readLog, readLog.length - record)).isEqualTo(Arrays.copyOf(expectedLog, expectedLog.length - record));
    StreamLog log = (StreamLog) read.get(0);
    assertThat(log.name()).isEqualTo("chat/s1");
    // A stream an old version wrote has no such record: an append sent again to it is answered as in
    // doubt, never applied a second time; one the new version created knows nothing was applied yet.
    assertThat(log.ownerAppend(77, 1)).isInstanceOf(OwnerAppends.Unknown.class);
    assertThat(((StreamLog) expected.get(0)).ownerAppend(77, 1)).isInstanceOf(OwnerAppends.Absent.class);
    for (int i = 1; i < expected.size(); i++) {
      assertThat(read.get(i)).as("sample %d", i).usingRecursiveComparison().isEqualTo(expected.get(i));
    }
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
