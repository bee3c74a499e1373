package io.tether.cluster.live;

import io.tether.stream.Offset;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The live side of one stream's owner: the subscriptions (which node, which position), the completions
 * of appends waiting for their turn, and the <em>committed watermark</em> {@link #watermark()}: every
 * event below it has been acknowledged by the backup, has been pushed to the subscriptions, and may be
 * read. Pure and single-threaded (the owner's context): the owner feeds it completions and re-reads, and
 * a {@link Sink} delivers what it pushes.
 *
 * <p>Appends complete out of order (entry processors on one partition finish in order, but their
 * callbacks may not arrive so), so completions wait in a reorder buffer until the one before them is
 * in; a completion that never arrives (its write failed) leaves a hole that only a re-read
 * ({@link #resynced}) fills. A subscription that activates just behind the watermark (its replay read
 * and concurrent appends completed out of order) gets the missing events from a small buffer of recent
 * ones, or is told to re-read.
 */
public final class LiveFanOut {

  /** Events kept after pushing, to serve a subscription that activates just behind the watermark. */
  public static final int RECENT_EVENTS = 64;
  static final long RECENT_BYTES = 256 * 1024;

  /** Delivers a push to the subscriptions {@code subscriptions} held by {@code node}. */
  public interface Sink {
    void push(String node, long[] subscriptions, Offset start, List<byte[]> events, boolean closes, int signal);
  }

  /** A live subscription: where it is, whether its replay completed, when its node last renewed it. */
  public static final class Sub {
    final String node;
    final long id;
    long next = -1;
    public boolean active;
    long lastSeen;

    private Sub(String node, long id, long now) {
      this.node = node;
      this.id = id;
      this.lastSeen = now;
    }
  }

  private record Key(String node, long id) {
  }

  private record Pending(Offset at, byte[] payload, boolean close) {
  }

  private final Sink sink;
  private final Map<Key, Sub> subs = new HashMap<>();
  private final TreeMap<Long, Pending> reorder = new TreeMap<>();
  private final ArrayDeque<Pending> recent = new ArrayDeque<>();
  private long recentBytes;
  private long nextPush = -1;
  private long ackedEnd = -1;

  public LiveFanOut(Sink sink) {
    this.sink = sink;
  }

  // ------------------------------------------------------------------------------------ watermark

  /**
   * The stream's tail as this owner found it on claiming or creating it: all of it is replicated (the
   * claim shipped the whole stream to the backup), nothing is waiting.
   */
  public void start(long tail) {
    nextPush = tail;
    ackedEnd = tail;
    reorder.clear();
    clearRecent();
  }

  /** The committed watermark (index of the next event to push), or -1 before the stream exists here. */
  public long watermark() {
    return nextPush;
  }

  /** How far reads may see: the watermark (no limit before the stream exists here). */
  public long visibleLimit() {
    return nextPush >= 0 ? nextPush : Long.MAX_VALUE;
  }

  /** End (exclusive index) of the highest append the backup acknowledged: everything below is replicated. */
  public long ackedEnd() {
    return ackedEnd;
  }

  /** The backup acknowledged everything below {@code end} (an append, or a whole re-replication). */
  public void acknowledged(long end) {
    ackedEnd = Math.max(ackedEnd, end);
  }

  /** Whether completions wait behind a hole (a completion still on its way, or one that failed). */
  public boolean hasGap() {
    return !reorder.isEmpty();
  }

  // ------------------------------------------------------------------------------------ events

  /** An acknowledged append (or close) at {@code at}: pushed once every append before it has been. */
  public void appended(Offset at, byte[] payload, boolean closes) {
    if (payload.length > 0) {
      reorder.put(at.index(), new Pending(at, payload, false));
    }
    if (closes) {
      long index = payload.length > 0 ? at.index() + 1 : at.index();
      Offset end = payload.length > 0 ? at.plus(payload.length) : at;
      reorder.put(index, new Pending(end, null, true));
    }
    drain();
  }

  /**
   * The events from {@code start} to {@code next} as a re-read found them, all replicated: they fill the
   * hole at the watermark. A re-read that does not start at the watermark (it moved meanwhile) only
   * releases what now follows.
   */
  public void resynced(Offset start, List<byte[]> events, Offset next, boolean closed) {
    if (start == null || start.index() != nextPush) {
      drain();
      return;
    }
    List<Pending> batch = new ArrayList<>(events.size());
    Offset at = start;
    for (byte[] event : events) {
      batch.add(new Pending(at, event, false));
      at = at.plus(event.length);
    }
    nextPush = next.index();
    reorder.headMap(nextPush).clear();
    if (closed) {
      reorder.clear();
    }
    if (!batch.isEmpty() || closed) {
      fanOut(batch, closed);
    }
    drain();
  }

  private void drain() {
    if (nextPush < 0) {
      return;
    }
    List<Pending> batch = new ArrayList<>();
    boolean closes = false;
    while (!reorder.isEmpty() && reorder.firstKey() <= nextPush) {
      Pending p = reorder.pollFirstEntry().getValue();
      if (p.at.index() < nextPush) {
        continue;
      }
      if (p.close) {
        closes = true;
        continue;
      }
      batch.add(p);
      nextPush++;
    }
    if (!batch.isEmpty() || closes) {
      fanOut(batch, closes);
    }
  }

  /**
   * Sends consecutive events to every active subscription, each from its own position (a subscription
   * that activated inside the batch gets the part it lacks). One push per node and position.
   */
  private void fanOut(List<Pending> batch, boolean closes) {
    if (!subs.isEmpty()) {
      long first = batch.isEmpty() ? nextPush : batch.get(0).at.index();
      long end = first + batch.size();
      Map<Long, Map<String, List<Sub>>> byPosition = new HashMap<>();
      for (Sub sub : subs.values()) {
        if (!sub.active) {
          continue;
        }
        if (sub.next < first) {
          // Behind the batch (cannot happen with ordered completion): make it re-read.
          signal(sub, LivePush.SIGNAL_MOVED);
          sub.active = false;
        } else if (sub.next < end || (closes && sub.next == end)) {
          byPosition.computeIfAbsent(sub.next, p -> new HashMap<>())
              .computeIfAbsent(sub.node, n -> new ArrayList<>()).add(sub);
        }
      }
      for (Map.Entry<Long, Map<String, List<Sub>>> position : byPosition.entrySet()) {
        int from = (int) (position.getKey() - first);
        List<byte[]> events = new ArrayList<>(batch.size() - from);
        for (int i = from; i < batch.size(); i++) {
          events.add(batch.get(i).payload);
        }
        Offset start = from < batch.size() ? batch.get(from).at : endOffset(batch, first);
        for (Map.Entry<String, List<Sub>> node : position.getValue().entrySet()) {
          long[] ids = node.getValue().stream().mapToLong(sub -> sub.id).toArray();
          sink.push(node.getKey(), ids, start, events, closes, LivePush.SIGNAL_NONE);
          for (Sub sub : node.getValue()) {
            sub.next = end;
          }
        }
      }
      if (closes) {
        subs.values().removeIf(sub -> sub.active);
      }
    }
    rememberRecent(batch);
  }

  private static Offset endOffset(List<Pending> batch, long first) {
    if (batch.isEmpty()) {
      return new Offset(first, 0);
    }
    Pending last = batch.get(batch.size() - 1);
    return last.at.plus(last.payload.length);
  }

  private void rememberRecent(List<Pending> batch) {
    if (subs.isEmpty()) {
      clearRecent();
      return;
    }
    for (Pending p : batch) {
      recent.addLast(p);
      recentBytes += p.payload.length;
    }
    while (!recent.isEmpty() && (recent.size() > RECENT_EVENTS || recentBytes > RECENT_BYTES)) {
      recentBytes -= recent.removeFirst().payload.length;
    }
  }

  private void clearRecent() {
    recent.clear();
    recentBytes = 0;
  }

  // ------------------------------------------------------------------------------------ subscriptions

  /**
   * A subscription asks to follow the stream; it is inactive (nothing is pushed to it) until its replay
   * read completes and {@link #activate} places it. Replaces an earlier subscription with the same id.
   */
  public Sub subscribe(String node, long id, long now) {
    Sub sub = new Sub(node, id, now);
    subs.put(new Key(node, id), sub);
    return sub;
  }

  /** Whether {@code sub} is still the subscription registered under its id (not replaced nor dropped). */
  public boolean isCurrent(Sub sub) {
    return subs.get(new Key(sub.node, sub.id)) == sub;
  }

  /**
   * The replay read of {@code sub} ended at {@code next}, the stream's tail as the read saw it: pushes
   * start there. When the watermark has already passed it, the events in between come from the recent
   * buffer, or the subscription is told to re-read.
   */
  public void activate(Sub sub, long next) {
    sub.next = next;
    sub.active = true;
    if (nextPush < 0 || sub.next >= nextPush) {
      return;
    }
    List<byte[]> missing = new ArrayList<>();
    Offset start = null;
    for (Pending p : recent) {
      if (p.at.index() >= sub.next && p.at.index() < nextPush) {
        if (start == null) {
          start = p.at;
        }
        missing.add(p.payload);
      }
    }
    if (start == null || start.index() != sub.next || sub.next + missing.size() != nextPush) {
      signal(sub, LivePush.SIGNAL_MOVED);
      sub.active = false;
      return;
    }
    sink.push(sub.node, new long[] {sub.id}, start, missing, false, LivePush.SIGNAL_NONE);
    sub.next = nextPush;
  }

  /** Drops {@code sub} if it is still the registered one (its replay failed or was refused). */
  public void drop(Sub sub) {
    subs.remove(new Key(sub.node, sub.id), sub);
  }

  public void unsubscribe(String node, long id) {
    subs.remove(new Key(node, id));
  }

  /** What {@link #renew} answers for a subscription that is not (or no longer) active here. */
  public static final long NOT_SUBSCRIBED = Long.MIN_VALUE;

  /**
   * A subscription's node renews it: answers the watermark (a subscriber behind it for two renewals in
   * a row missed a push), or {@link #NOT_SUBSCRIBED} when no active subscription has that id (it must
   * subscribe again).
   */
  public long renew(String node, long id, long now) {
    Sub sub = subs.get(new Key(node, id));
    if (sub == null || !sub.active) {
      return NOT_SUBSCRIBED;
    }
    sub.lastSeen = now;
    return nextPush;
  }

  /** Drops active subscriptions not renewed since {@code cutoff} (their node stopped renewing them). */
  public void expire(long cutoff) {
    subs.values().removeIf(s -> s.active && s.lastSeen < cutoff);
    if (subs.isEmpty()) {
      clearRecent();
    }
  }

  /** A member left: its subscriptions are gone with it. */
  public void nodeLeft(String node) {
    subs.keySet().removeIf(k -> k.node.equals(node));
  }

  /**
   * Ends every subscription with {@code signal} ({@link LivePush#SIGNAL_MOVED}: subscribe again and
   * reach the next owner; {@link LivePush#SIGNAL_GONE}: the stream is gone).
   */
  public void endAll(int signal) {
    for (Sub sub : subs.values()) {
      signal(sub, signal);
    }
    subs.clear();
  }

  /** The stream was deleted or expired: nothing is pending, nothing is visible. */
  public void clear() {
    endAll(LivePush.SIGNAL_GONE);
    reorder.clear();
    clearRecent();
    nextPush = -1;
  }

  public int subscriptions() {
    return subs.size();
  }

  private void signal(Sub sub, int signal) {
    sink.push(sub.node, new long[] {sub.id}, new Offset(Math.max(0, sub.next), 0), List.of(), false, signal);
  }
}
