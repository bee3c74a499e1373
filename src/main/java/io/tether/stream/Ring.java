package io.tether.stream;

import io.tether.wire.WireInput;
import io.tether.wire.WireOutput;

import java.util.ArrayList;
import java.util.List;

/**
 * The bounded event buffer of one stream: a circular array of payloads holding the newest events,
 * bounded both in count and in bytes. Appending evicts the oldest events to stay within bounds; the
 * position of the oldest retained event is kept so that offsets stay dense across evictions.
 *
 * <p>The array grows by doubling up to {@code maxEvents}, so a short stream costs little memory.
 * Appending is O(1) amortised and never copies payloads.
 */
final class Ring {

  private static final byte[][] EMPTY = new byte[0][];

  private final int maxEvents;
  private final long maxBytes;

  private byte[][] slots = EMPTY;
  private int head;
  private int size;
  private long retainedBytes;
  private long firstIndex;
  private long firstBytes;

  Ring(int maxEvents, long maxBytes, Offset start) {
    if (maxEvents < 1 || maxBytes < 1) {
      throw new IllegalArgumentException("ring limits must be positive");
    }
    this.maxEvents = maxEvents;
    this.maxBytes = maxBytes;
    this.firstIndex = start.index();
    this.firstBytes = start.bytes();
  }

  int maxEvents() {
    return maxEvents;
  }

  long maxBytes() {
    return maxBytes;
  }

  /** Offset of the oldest retained event (equals {@link #tail()} when empty). */
  Offset first() {
    return new Offset(firstIndex, firstBytes);
  }

  /** Offset after the newest event: where the next append lands. */
  Offset tail() {
    return new Offset(firstIndex + size, firstBytes + retainedBytes);
  }

  int size() {
    return size;
  }

  long retainedBytes() {
    return retainedBytes;
  }

  /** Appends one event and evicts the oldest ones beyond the limits; returns the event's offset. */
  Offset append(byte[] payload) {
    Offset at = tail();
    while (size > 0 && (size >= maxEvents || retainedBytes + payload.length > maxBytes)) {
      evictOldest();
    }
    if (size == slots.length) {
      grow();
    }
    slots[(head + size) % slots.length] = payload;
    size++;
    retainedBytes += payload.length;
    return at;
  }

  /** Drops every retained event but keeps the tail position (used when a stream is soft-deleted). */
  void clear() {
    Offset tail = tail();
    slots = EMPTY;
    head = 0;
    size = 0;
    retainedBytes = 0;
    firstIndex = tail.index();
    firstBytes = tail.bytes();
  }

  byte[] get(long index) {
    if (index < firstIndex || index >= firstIndex + size) {
      throw new IndexOutOfBoundsException("index " + index + " not retained");
    }
    return slots[(int) ((head + (index - firstIndex)) % slots.length)];
  }

  /**
   * Events from {@code fromIndex}, at most {@code maxBytes} of payload but at least one event when any
   * exists there. The caller has checked that {@code fromIndex} lies within [first, tail].
   */
  List<byte[]> slice(long fromIndex, long maxBytes) {
    return slice(fromIndex, maxBytes, Long.MAX_VALUE);
  }

  /** Like {@link #slice(long, long)}, stopping before {@code endIndex}. */
  List<byte[]> slice(long fromIndex, long maxBytes, long endIndex) {
    List<byte[]> out = new ArrayList<>();
    long budget = maxBytes;
    long end = Math.min(endIndex, firstIndex + size);
    for (long i = fromIndex; i < end; i++) {
      byte[] payload = get(i);
      if (!out.isEmpty() && payload.length > budget) {
        break;
      }
      out.add(payload);
      budget -= payload.length;
    }
    return out;
  }

  /** Cumulative byte position of the event at {@code index} (within [first, tail]). */
  long bytesAt(long index) {
    // Walk from whichever end is closer: readers usually resume near the tail.
    if (index - firstIndex <= firstIndex + size - index) {
      long bytes = firstBytes;
      for (long i = firstIndex; i < index; i++) {
        bytes += get(i).length;
      }
      return bytes;
    }
    long bytes = firstBytes + retainedBytes;
    for (long i = firstIndex + size - 1; i >= index; i--) {
      bytes -= get(i).length;
    }
    return bytes;
  }

  private void evictOldest() {
    byte[] oldest = slots[head];
    slots[head] = null;
    head = (head + 1) % slots.length;
    size--;
    retainedBytes -= oldest.length;
    firstIndex++;
    firstBytes += oldest.length;
  }

  private void grow() {
    int capacity = slots.length == 0 ? 4 : Math.min(slots.length * 2, maxEvents);
    byte[][] bigger = new byte[capacity][];
    for (int i = 0; i < size; i++) {
      bigger[i] = slots[(head + i) % slots.length];
    }
    slots = bigger;
    head = 0;
  }

  void writeTo(WireOutput out) {
    out.writeInt(maxEvents);
    out.writeLong(maxBytes);
    out.writeLong(firstIndex);
    out.writeLong(firstBytes);
    out.writeInt(size);
    for (int i = 0; i < size; i++) {
      out.writeBytes(slots[(head + i) % slots.length]);
    }
  }

  static Ring readFrom(WireInput in) {
    Ring ring = new Ring(in.readInt(), in.readLong(), Offset.ZERO);
    ring.firstIndex = in.readLong();
    ring.firstBytes = in.readLong();
    int size = in.readInt();
    ring.slots = size == 0 ? EMPTY : new byte[Math.max(4, size)][];
    for (int i = 0; i < size; i++) {
      byte[] payload = in.readBytes();
      ring.slots[i] = payload;
      ring.retainedBytes += payload.length;
    }
    ring.size = size;
    return ring;
  }
}
