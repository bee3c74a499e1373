package io.tether.wire;

import io.tether.stream.AppendEffect;
import io.vertx.core.buffer.Buffer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The framed wire format lets nodes of two versions talk: a reader skips fields a newer writer
 * appended, reads fields an older writer lacked as zero values, and refuses what it cannot read.
 */
class WireFormatTest {

  /** Version 1 of a message: a name and a count. */
  record Old(String name, long count) implements WireMessage {
    @Override
    public int wireType() {
      return 990;
    }

    @Override
    public void writeTo(WireOutput out) {
      out.writeString(name);
      out.writeLong(count);
    }

    static Old readFrom(WireInput in) {
      return new Old(in.readString(), in.readLong());
    }
  }

  /** Version 2 of the same message (same type id): two fields appended. */
  record New(String name, long count, String note, List<byte[]> extra) implements WireMessage {
    @Override
    public int wireType() {
      return 990;
    }

    @Override
    public void writeTo(WireOutput out) {
      out.writeString(name);
      out.writeLong(count);
      out.writeString(note);
      out.writeByteList(extra);
    }

    static New readFrom(WireInput in) {
      return new New(in.readString(), in.readLong(), in.readString(), in.readByteList());
    }
  }

  /** A message holding another one, then a field after it: the nested frame must end where it says. */
  record Holder(WireMessage inner, String after) implements WireMessage {
    @Override
    public int wireType() {
      return 991;
    }

    @Override
    public void writeTo(WireOutput out) {
      out.writeMessage(inner);
      out.writeString(after);
    }

    static Holder readFrom(WireInput in) {
      return new Holder(in.readMessage(), in.readString());
    }
  }

  @BeforeAll
  static void register() {
    io.tether.stream.StreamProcessors.register();
    // This node's version reads type 990 as Old.
    WireTypes.register(990, Old::readFrom);
    WireTypes.register(991, Holder::readFrom);
  }

  @Test
  void aReaderSkipsFieldsANewerWriterAppended() {
    byte[] bytes = BufferWire.encode(new Holder(new New("a", 7, "added later", List.of(new byte[] {1, 2})), "tail"));

    Holder read = (Holder) BufferWire.decode(bytes);

    assertThat(read.inner()).isEqualTo(new Old("a", 7));
    assertThat(read.after()).isEqualTo("tail");
  }

  @Test
  void fieldsAnOlderWriterLackedReadAsZeroValues() {
    Buffer buffer = Buffer.buffer();
    new BufferWire.Out(buffer).writeMessage(new Old("b", 9));
    // The frame: type (4), frame version (1), body length (4), body.
    int bodyStart = 9;
    BufferWire.In in = new BufferWire.In(buffer, bodyStart, buffer.length());

    New read = New.readFrom(in);

    assertThat(read.name()).isEqualTo("b");
    assertThat(read.count()).isEqualTo(9);
    assertThat(read.note()).isNull();
    assertThat(read.extra()).isEmpty();
    assertThat(in.hasRemaining()).isFalse();
  }

  @Test
  void theEventBusCodecAndTheHazelcastEncodingCarryTheSameMessage() {
    AppendEffect effect = new AppendEffect(new byte[] {'x'}, "p", 1, 2, "s", false, 3, 4);
    EventBusWireCodec codec = new EventBusWireCodec();
    Buffer buffer = Buffer.buffer("prefix");
    codec.encodeToWire(buffer, new Holder(effect, "after"));
    buffer.appendString("trailing bytes of another message");

    Holder viaBus = (Holder) codec.decodeFromWire(6, buffer);
    Holder viaBytes = (Holder) BufferWire.decode(BufferWire.encode(new Holder(effect, "after")));

    for (Holder h : List.of(viaBus, viaBytes)) {
      AppendEffect read = (AppendEffect) h.inner();
      assertThat(read.payload()).containsExactly('x');
      assertThat(read).usingRecursiveComparison().ignoringFields("payload").isEqualTo(effect);
      assertThat(h.after()).isEqualTo("after");
    }
  }

  @Test
  void anUnknownFrameVersionIsRefusedWithAClearError() {
    byte[] bytes = BufferWire.encode(new Old("c", 1));
    bytes[4] = 9;

    assertThatThrownBy(() -> BufferWire.decode(bytes))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("frame version 9");
  }

  @Test
  void aTruncatedOrOverlongMessageIsRefused() {
    byte[] bytes = BufferWire.encode(new Old("a name", 1));
    byte[] cut = java.util.Arrays.copyOf(bytes, bytes.length - 3);
    assertThatThrownBy(() -> BufferWire.decode(cut)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("claims");

    // A body length that fits, but a field inside it that runs past the body's end.
    Buffer buffer = Buffer.buffer().appendInt(990).appendByte((byte) BufferWire.FRAME_VERSION).appendInt(6)
        .appendInt(100).appendShort((short) 0);
    assertThatThrownBy(() -> new BufferWire.In(buffer, 0, buffer.length()).readMessage())
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("truncated");
  }

  @Test
  void anUnknownTypeIsRefused() {
    Buffer buffer = Buffer.buffer().appendInt(12345).appendByte((byte) BufferWire.FRAME_VERSION).appendInt(0);

    assertThatThrownBy(() -> new BufferWire.In(buffer, 0, buffer.length()).readMessage())
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("unknown wire type 12345");
  }
}
