package io.tether.cluster.routing;

import io.tether.cluster.owner.CommandReply;
import io.tether.cluster.owner.OwnerCompanion;
import io.tether.cluster.owner.OwnerInfo;
import io.tether.stream.AppendSpec;
import io.tether.stream.CreateSpec;
import io.tether.stream.ForkSpec;
import io.tether.stream.Offset;
import io.tether.stream.ReadStart;
import io.tether.wire.WireInput;
import io.tether.wire.WireMessage;
import io.tether.wire.WireOutput;
import io.tether.wire.WireTypes;


/**
 * A request addressed to the owner of one stream, sent over the clustered event bus to the stream's
 * own address ({@link Addresses#stream}). The owner answers with a {@link io.tether.stream.StreamReply}
 * (or an {@link OwnerInfo} for {@link Describe}).
 */
public sealed interface StreamRequest extends WireMessage {

  /**
   * Whether re-sending after a timeout is harmless. Appends without producer headers are not: the
   * first attempt may have been applied.
   */
  boolean retriable();

  public static void register() {
    WireTypes.register(Create.WIRE_TYPE, Create::readFrom);
    WireTypes.register(Append.WIRE_TYPE, Append::readFrom);
    WireTypes.register(Read.WIRE_TYPE, Read::readFrom);
    WireTypes.register(Delete.WIRE_TYPE, in -> new Delete());
    WireTypes.register(Subscribe.WIRE_TYPE, Subscribe::readFrom);
    WireTypes.register(Unsubscribe.WIRE_TYPE, Unsubscribe::readFrom);
    WireTypes.register(Ping.WIRE_TYPE, Ping::readFrom);
    WireTypes.register(TakeForkData.WIRE_TYPE, TakeForkData::readFrom);
    WireTypes.register(ReleaseFork.WIRE_TYPE, in -> new ReleaseFork());
    WireTypes.register(Expired.WIRE_TYPE, in -> new Expired());
    WireTypes.register(Describe.WIRE_TYPE, in -> new Describe());
    WireTypes.register(Command.WIRE_TYPE, Command::readFrom);
  }

  /** PUT. */
  record Create(CreateSpec spec) implements StreamRequest {
    static final int WIRE_TYPE = 201;

    @Override
    public boolean retriable() {
      return true;
    }

    @Override
    public int wireType() {
      return WIRE_TYPE;
    }

    @Override
    public void writeTo(WireOutput out) {
      spec.writeTo(out);
    }

    static Create readFrom(WireInput in) {
      return new Create(CreateSpec.readFrom(in));
    }
  }

  /** POST. */
  record Append(AppendSpec spec) implements StreamRequest {
    static final int WIRE_TYPE = 202;

    @Override
    public boolean retriable() {
      return spec.producer() != null;
    }

    @Override
    public int wireType() {
      return WIRE_TYPE;
    }

    @Override
    public void writeTo(WireOutput out) {
      spec.writeTo(out);
    }

    static Append readFrom(WireInput in) {
      return new Append(AppendSpec.readFrom(in));
    }
  }

  /**
   * GET catch-up read, or HEAD when {@code maxBytes} is 0. {@code touch} restarts a sliding TTL
   * (reads do, HEAD does not).
   */
  record Read(ReadStart start, long maxBytes, boolean touch) implements StreamRequest {
    static final int WIRE_TYPE = 203;

    @Override
    public boolean retriable() {
      return true;
    }

    @Override
    public int wireType() {
      return WIRE_TYPE;
    }

    @Override
    public void writeTo(WireOutput out) {
      out.writeLong(start.wireIndex());
      out.writeLong(start.wireBytes());
      out.writeLong(maxBytes);
      out.writeBoolean(touch);
    }

    static Read readFrom(WireInput in) {
      return new Read(ReadStart.fromWire(in.readLong(), in.readLong()), in.readLong(), in.readBoolean());
    }
  }

  /** DELETE. */
  record Delete() implements StreamRequest {
    static final int WIRE_TYPE = 204;

    @Override
    public boolean retriable() {
      return false;
    }

    @Override
    public int wireType() {
      return WIRE_TYPE;
    }

    @Override
    public void writeTo(WireOutput out) {
    }
  }

  /**
   * Start (or restart) a live subscription for one connection on {@code node}. The owner answers with
   * the events from {@code start} (at most {@code maxBytes}); when they reach the tail it registers the
   * subscription and pushes every later event to {@link Addresses#live(String) node's live address}.
   */
  record Subscribe(String node, long subscription, ReadStart start, long maxBytes) implements StreamRequest {
    static final int WIRE_TYPE = 205;

    @Override
    public boolean retriable() {
      return true;
    }

    @Override
    public int wireType() {
      return WIRE_TYPE;
    }

    @Override
    public void writeTo(WireOutput out) {
      out.writeString(node);
      out.writeLong(subscription);
      out.writeLong(start.wireIndex());
      out.writeLong(start.wireBytes());
      out.writeLong(maxBytes);
    }

    static Subscribe readFrom(WireInput in) {
      return new Subscribe(in.readString(), in.readLong(), ReadStart.fromWire(in.readLong(), in.readLong()), in.readLong());
    }
  }

  /** The connection is gone; stop pushing to it. */
  record Unsubscribe(String node, long subscription) implements StreamRequest {
    static final int WIRE_TYPE = 206;

    @Override
    public boolean retriable() {
      return true;
    }

    @Override
    public int wireType() {
      return WIRE_TYPE;
    }

    @Override
    public void writeTo(WireOutput out) {
      out.writeString(node);
      out.writeLong(subscription);
    }

    static Unsubscribe readFrom(WireInput in) {
      return new Unsubscribe(in.readString(), in.readLong());
    }
  }

  /**
   * Lease renewal and gap check of a live subscription, sent every {@code TETHER_LEASE_SECONDS}. The owner
   * answers OK with its tail, or ABSENT when it does not know the subscription (the subscriber then
   * subscribes again from its own position).
   */
  record Ping(String node, long subscription) implements StreamRequest {
    static final int WIRE_TYPE = 207;

    @Override
    public boolean retriable() {
      return true;
    }

    @Override
    public int wireType() {
      return WIRE_TYPE;
    }

    @Override
    public void writeTo(WireOutput out) {
      out.writeString(node);
      out.writeLong(subscription);
    }

    static Ping readFrom(WireInput in) {
      return new Ping(in.readString(), in.readLong());
    }
  }

  /** Sent to a fork source's owner: copy the inherited data and count the new fork as a reference. */
  record TakeForkData(ForkSpec fork, String contentType) implements StreamRequest {
    static final int WIRE_TYPE = 208;

    @Override
    public boolean retriable() {
      return false;
    }

    @Override
    public int wireType() {
      return WIRE_TYPE;
    }

    @Override
    public void writeTo(WireOutput out) {
      out.writeString(fork.source());
      Offset.write(out, fork.offset());
      out.writeLong(fork.subOffset());
      out.writeString(contentType);
    }

    static TakeForkData readFrom(WireInput in) {
      return new TakeForkData(new ForkSpec(in.readString(), Offset.read(in), in.readLong()), in.readString());
    }
  }

  /** Sent to a fork source's owner when a fork is deleted or expires. */
  record ReleaseFork() implements StreamRequest {
    static final int WIRE_TYPE = 209;

    @Override
    public boolean retriable() {
      return false;
    }

    @Override
    public int wireType() {
      return WIRE_TYPE;
    }

    @Override
    public void writeTo(WireOutput out) {
    }
  }

  /** The expiry sweeper removed the stream: tell its live subscribers. */
  record Expired() implements StreamRequest {
    static final int WIRE_TYPE = 210;

    @Override
    public boolean retriable() {
      return true;
    }

    @Override
    public int wireType() {
      return WIRE_TYPE;
    }

    @Override
    public void writeTo(WireOutput out) {
    }
  }

  /** Admin: who owns the stream, with which epoch, and its retained range. */
  record Describe() implements StreamRequest {
    static final int WIRE_TYPE = 211;

    @Override
    public boolean retriable() {
      return true;
    }

    @Override
    public int wireType() {
      return WIRE_TYPE;
    }

    @Override
    public void writeTo(WireOutput out) {
    }
  }

  /**
   * A command for the stream's {@link OwnerCompanion} (the conversation layer's session commands), as
   * JSON; answered with a {@link CommandReply}.
   *
   * @param json      the command
   * @param retriable whether the command is idempotent (safe to send again after a timeout)
   */
  record Command(String json, boolean retriable) implements StreamRequest {
    static final int WIRE_TYPE = 212;

    @Override
    public int wireType() {
      return WIRE_TYPE;
    }

    @Override
    public void writeTo(WireOutput out) {
      out.writeString(json);
      out.writeBoolean(retriable);
    }

    static Command readFrom(WireInput in) {
      return new Command(in.readString(), in.readBoolean());
    }
  }
}
