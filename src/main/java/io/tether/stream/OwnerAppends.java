package io.tether.stream;

import io.tether.wire.WireInput;
import io.tether.wire.WireOutput;

/**
 * The owner's most recent appends to one stream, by the owner's own sequence number: what lets an owner
 * send an append again after Hazelcast could not say whether it was applied (the member running it left,
 * its backup never answered) and still apply it exactly once.
 *
 * <p>Every append an owner sends carries its claim token and a sequence number of its own. The stream
 * records the last {@value #WINDOW} of them with the offset each was applied at, on the primary and, through
 * the append's effect, on the backup. An append sent again ({@link StreamProcessors.AppendAgain}) is then
 * either found here (applied: its original offset is the answer), or certainly absent, or, when the
 * record cannot tell, answered as still in doubt and left alone.
 *
 * <p>"Certainly absent" rests on the stream's tail: the record notes the tail after the last append it
 * recorded. When the tail is still there, no append has been applied since that the record does not know
 * of. Anything else moved it: an append without a sequence number (a node of an older version), or a copy
 * of the stream whose record an older version did not keep (it reads back as empty, at tail 0). The
 * record then starts again and says "cannot tell" about anything the owner sent before.
 */
public final class OwnerAppends {

  /**
   * How many recent appends are remembered, per stream: enough for the appends one owner has in flight
   * to one stream while one of them is settled (a few), small enough for an idle stream's budget (a
   * remembered append costs 16 B per copy).
   */
  public static final int WINDOW = 8;
  private static final long[] NONE = new long[0];

  /** What the record says about one of the owner's appends. */
  public sealed interface Verdict {
  }

  /** The append was applied; its event is at {@code index}. */
  public record Applied(long index) implements Verdict {
  }

  /** The append was not applied: sending it again applies it once. */
  public record Absent() implements Verdict {
  }

  /** The record cannot tell (it lost track, or the append is older than the window). */
  public record Unknown(String why) implements Verdict {
  }

  private static final Absent ABSENT = new Absent();

  /** The claim token whose appends are recorded; 0 when none is. */
  private long token;
  /** Sequence numbers at or below this one are not known either way. */
  private long floor;
  /** The stream's tail index after the last recorded append. */
  private long tailIndex;
  private int count;
  private int next;
  /** The ring of remembered appends: sequence number at {@code 2i}, event index at {@code 2i + 1}. */
  private long[] entries = NONE;

  /** A record that starts at a stream whose tail is at {@code tailIndex} (a new stream). */
  static OwnerAppends startingAt(long tailIndex) {
    OwnerAppends appends = new OwnerAppends();
    appends.tailIndex = tailIndex;
    return appends;
  }

  /**
   * Records the owner {@code token}'s append {@code seq}, applied at {@code index} to a stream whose tail
   * was at {@code tailBefore} and is now at {@code tailAfter}.
   */
  void record(long token, long seq, long tailBefore, long index, long tailAfter) {
    if (token != this.token || tailIndex != tailBefore) {
      // Another owner's first append, or something moved the tail behind the record's back. Only in the
      // first case, with the tail where the record left it, is nothing of this owner's applied unseen.
      floor = token != this.token && tailIndex == tailBefore ? 0 : Long.MAX_VALUE;
      this.token = token;
      count = 0;
      next = 0;
    }
    remember(seq, index);
    tailIndex = tailAfter;
  }

  /** Adds one append to the ring; the one it pushes out raises the floor. */
  private void remember(long seq, long index) {
    if (entries.length == 0) {
      entries = new long[2 * WINDOW];
    }
    if (count == WINDOW) {
      floor = Math.max(floor, entries[2 * next]);
    } else {
      count++;
    }
    entries[2 * next] = seq;
    entries[2 * next + 1] = index;
    next = (next + 1) % WINDOW;
  }

  /** Whether the owner {@code token}'s append {@code seq} was applied to a stream now at {@code tail}. */
  Verdict verdict(long token, long seq, long tail) {
    if (token == this.token) {
      for (int i = 0; i < count; i++) {
        if (entries[2 * i] == seq) {
          return new Applied(entries[2 * i + 1]);
        }
      }
      if (tail != tailIndex) {
        return new Unknown("the stream changed where this record did not see it");
      }
      if (seq <= floor) {
        return new Unknown("append " + seq + " is older than the " + WINDOW + " recorded");
      }
      return ABSENT;
    }
    // Nothing of this owner's is recorded: none was applied if nothing was since the last record.
    return tail == tailIndex ? ABSENT : new Unknown("the stream changed where this record did not see it");
  }

  void writeTo(WireOutput out) {
    out.writeLong(token);
    out.writeLong(floor);
    out.writeLong(tailIndex);
    out.writeInt(count);
    // Oldest first, so that a reader's ring starts in order.
    int oldest = count < WINDOW ? 0 : next;
    for (int i = 0; i < count; i++) {
      int at = (oldest + i) % WINDOW;
      out.writeLong(entries[2 * at]);
      out.writeLong(entries[2 * at + 1]);
    }
  }

  /** Reads what {@link #writeTo} wrote; an older writer's stream (no record) reads as an empty one at tail 0. */
  static OwnerAppends readFrom(WireInput in) {
    OwnerAppends appends = new OwnerAppends();
    appends.token = in.readLong();
    appends.floor = in.readLong();
    appends.tailIndex = in.readLong();
    int written = Math.max(in.readInt(), 0);
    // Oldest first: a writer that remembered more than this node does leaves its oldest behind here.
    for (int i = 0; i < written; i++) {
      long seq = in.readLong();
      appends.remember(seq, in.readLong());
    }
    return appends;
  }
}
