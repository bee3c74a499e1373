package io.tether.cluster.owner;

import io.vertx.core.Future;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The active stream owners on this node, by stream name and by partition. Only active owners are here:
 * an owner leaves when it steps down or passivates, so everything that walks owners (a partition
 * moving away, a member leaving, the periodic sweep) costs what is active, not what was ever touched.
 */
public final class OwnerRegistry {

  private final Map<String, StreamOwner> owners = new ConcurrentHashMap<>();
  private final Map<Integer, Set<StreamOwner>> byPartition = new ConcurrentHashMap<>();
  private final Set<StreamOwner> retiring = ConcurrentHashMap.newKeySet();
  private final AtomicInteger operationsInFlight = new AtomicInteger();
  private volatile long lastRedirect;

  void add(StreamOwner owner) {
    owners.put(owner.stream(), owner);
    byPartition.computeIfAbsent(owner.partition(), p -> ConcurrentHashMap.newKeySet()).add(owner);
  }

  void remove(StreamOwner owner) {
    owners.remove(owner.stream(), owner);
    byPartition.computeIfPresent(owner.partition(), (p, set) -> {
      set.remove(owner);
      return set.isEmpty() ? null : set;
    });
  }

  public StreamOwner get(String stream) {
    return owners.get(stream);
  }

  /**
   * Hands a request to the stream's active owner on this node, on the owner's context, as the event bus
   * would; false if the stream has none here.
   */
  public boolean deliver(String stream, io.vertx.core.eventbus.Message<io.tether.wire.WireMessage> request) {
    StreamOwner owner = owners.get(stream);
    if (owner == null) {
      return false;
    }
    owner.deliver(request);
    return true;
  }

  /** Active owners on this node. */
  public int size() {
    return owners.size();
  }

  /** The active owners of streams in {@code partition}. */
  public Collection<StreamOwner> inPartition(int partition) {
    Set<StreamOwner> set = byPartition.get(partition);
    return set == null ? List.of() : List.copyOf(set);
  }

  /** Retires every owner on this node (handover at shutdown). */
  public void retireAll(String why) {
    for (StreamOwner owner : owners.values()) {
      owner.retireAsync(why);
    }
  }

  /** Runs every active owner's periodic upkeep (leases, companion, passivation) on its own context. */
  public void sweep(long now) {
    for (StreamOwner owner : owners.values()) {
      owner.sweepAsync(now);
    }
  }

  /** Entry processors submitted by owners on this node and not yet answered. */
  public int operationsInFlight() {
    return operationsInFlight.get();
  }

  AtomicInteger operationCounter() {
    return operationsInFlight;
  }

  void retiring(StreamOwner owner) {
    retiring.add(owner);
  }

  void retired(StreamOwner owner) {
    retiring.remove(owner);
  }

  /** A stepped-down owner answered a request MOVED: some node still routes that stream here. */
  void redirected() {
    lastRedirect = System.nanoTime();
  }

  /**
   * When a stepped-down owner on this node last answered a request MOVED ({@link System#nanoTime}), or 0.
   * A node shutting down keeps its addresses until these stop: a request that reaches an address after it
   * is gone is dropped without an answer, and its sender can only report the outcome as unknown.
   */
  public long lastRedirect() {
    return lastRedirect;
  }

  /** Unregisters the addresses of every owner that stepped down but still answers MOVED (shutdown). */
  public Future<Void> unregisterRetired() {
    List<Future<Void>> all = new ArrayList<>();
    for (StreamOwner owner : retiring) {
      all.add(owner.unregister());
    }
    return Future.join(all).mapEmpty();
  }

  public Collection<StreamOwner> all() {
    return owners.values();
  }
}
