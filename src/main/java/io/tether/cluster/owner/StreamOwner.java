package io.tether.cluster.owner;

import io.tether.cluster.StreamServices;
import io.tether.cluster.live.LiveFanOut;
import io.tether.cluster.live.LivePush;
import io.tether.cluster.live.LiveSubscription;
import io.tether.cluster.routing.Addresses;
import io.tether.cluster.routing.Expiry;
import io.tether.cluster.routing.StreamRequest;
import io.tether.cluster.routing.StreamRouter;
import io.tether.stream.AppendSpec;
import io.tether.stream.CreateSpec;
import io.tether.stream.Fence;
import io.tether.stream.ForkSpec;
import io.tether.stream.Offset;
import io.tether.stream.Outcome;
import io.tether.stream.ReadStart;
import io.tether.stream.StreamProcessors;
import io.tether.stream.StreamReply;
import io.tether.stream.StreamSettings;
import io.tether.wire.WireMessage;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The single writer of one stream: a verticle registered on the clustered event bus at the stream's
 * own address, normally on the member that holds the stream's primary partition.
 *
 * <p>Every request for the stream, from any node and any transport, arrives here. The owner turns it
 * into an entry processor that runs against the replicated {@link io.tether.stream.StreamLog} and
 * carries the owner's fencing epoch, so that a second owner (during a partition migration or after a
 * split) can never append: its processors answer {@link Outcome#STALE_OWNER} and it retires.
 *
 * <p>It also fans new events out to the nodes that hold live subscriptions, in offset order, with no
 * cluster-map look-up per event: the subscriber nodes are addressed directly ({@link Addresses#live}).
 * An event is pushed only after its entry processor completed, i.e. after the backup acknowledged it,
 * so no reader ever sees an event a failover could lose.
 *
 * <p>The push position is also the owner's <em>committed watermark</em> ({@link LiveFanOut}): every event
 * below it is on the backup copy. Reads, subscriptions, forks and descriptions are served up to it and
 * no further, and an idempotent producer's retry that finds its original still in flight is answered
 * only once the original is below it. A write whose backup was not acknowledged is answered
 * {@code outcome_unknown}; the owner then ships the whole stream to the backup ({@code Replicate})
 * before the watermark moves past it.
 */
public final class StreamOwner extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(StreamOwner.class);

  /** How long a retired owner keeps answering MOVED before it unregisters. */
  private static final long RETIRED_GRACE_MILLIS = 5_000;
  /** How long an out-of-order completion may wait for the missing one before the owner re-reads. */
  private static final long GAP_WAIT_MILLIS = 100;

  private final String stream;
  private final int partition;
  private final boolean mayCreate;
  private final StreamServices services;

  /** This owner's claim token: its fence is (epoch, token) once it has claimed the stream. */
  private final long token = Fence.newToken();
  private Fence fence = Fence.NONE;
  /** Numbers this owner's appends and settles those Hazelcast leaves in doubt. */
  private final AppendResolver appends;
  /** The incarnation of the stream this owner serves (0 until it exists); pushes carry it. */
  private long incarnation;
  private boolean ready;
  private final List<Message<WireMessage>> early = new ArrayList<>();
  private boolean retired;
  private MessageConsumer<WireMessage> consumer;
  /** When this owner last handled a request (any kind): the clock of passivation. */
  private long lastActivity = now();
  /** Processors this owner submitted and has not seen answered. */
  private int operations;
  /** Logic running beside this owner for this stream (a session's conversation), or {@code null}. */
  private OwnerCompanion companion;
  private boolean exists;

  /** Subscriptions, ordering of completions and the committed watermark; confined to this context. */
  private final LiveFanOut live = new LiveFanOut(this::push);
  /** A write failed with its backup state unknown: the whole stream must be re-replicated before pushing. */
  private boolean unreplicated;
  private int resyncFailures;
  /** Answers held until the watermark reaches an index (duplicates of appends still in flight). */
  private final List<Held> held = new ArrayList<>();
  private boolean gapTimerSet;

  public StreamOwner(String stream, boolean mayCreate, StreamServices services) {
    this.stream = stream;
    this.partition = services.cluster().partitionOf(stream);
    this.mayCreate = mayCreate;
    this.services = services;
    this.appends = new AppendResolver(stream, this::attempt, () -> fence, () -> retired, delay -> vertx.timer(delay),
        StreamOwner::now, () -> services.metrics().appendResolved());
  }

  public String stream() {
    return stream;
  }

  /** The Hazelcast partition holding the stream. */
  public int partition() {
    return partition;
  }

  /**
   * Claims ownership and registers the stream's address: at the same time for an owner started to
   * create the stream (requests that arrive before the claim completes wait for it), one after the
   * other otherwise. Fails with {@link NotFound} for an absent stream unless this owner was started to
   * create it.
   */
  @Override
  public Future<?> start() {
    Future<?> started;
    if (mayCreate) {
      // Most creates are for new streams: register the address while the claim runs.
      consumer = vertx.eventBus().consumer(Addresses.stream(stream), this::handle);
      Future<StreamReply> claim = services.store()
          .execute(stream, new StreamProcessors.Claim(services.nodeId(), token, now()), context)
          .compose(reply -> {
            if (reply.outcome().isRetryLater()) {
              return Future.failedFuture(new Refused(reply));
            }
            claimed(reply);
            return Future.succeededFuture(reply);
          });
      started = Future.all(claim, consumer.completion());
    } else {
      // Any other request may name a stream that does not exist: claim first, and register the address
      // only for a stream that does. A registration made and dropped again for an absent stream could
      // linger in other members' caches, and messages sent to it would be lost until their timeout.
      started = services.store()
          .execute(stream, new StreamProcessors.Claim(services.nodeId(), token, now()), context)
          .compose(reply -> {
            if (reply.outcome().isRetryLater()) {
              return Future.failedFuture(new Refused(reply));
            }
            if (reply.outcome() == Outcome.ABSENT) {
              return Future.failedFuture(new NotFound());
            }
            consumer = vertx.eventBus().consumer(Addresses.stream(stream), this::handle);
            return consumer.completion().andThen(ar -> {
              if (ar.succeeded()) {
                claimed(reply);
              }
            });
          });
    }
    return started.onSuccess(v -> {
      if (!retired) {
        services.owners().add(this);
      }
      log.debug("owner of {} active on {} with epoch {}", stream, services.nodeId(), fence.epoch());
    });
  }

  private void claimed(StreamReply reply) {
    if (reply.releaseSource() != null) {
      releaseForkReference(reply.releaseSource());
    }
    if (reply.outcome() == Outcome.ABSENT) {
      fence = new Fence(0, token);
    } else {
      exists = true;
      fence = new Fence(reply.ownerEpoch(), token);
      incarnation = reply.incarnation();
      // The claim shipped the whole stream to the backup: everything up to its tail is replicated.
      live.start(reply.next().index());
      // A failover: the stream's previous owner is no longer a member (it died, or was expelled), as
      // opposed to a handover (its partition moved while it lives) or this node's own earlier owner.
      String previous = reply.previousOwner();
      services.metrics().claimed(previous != null && !previous.equals(services.nodeId())
          && !services.cluster().memberNodeIds().contains(previous));
    }
    ready = true;
    if (exists) {
      // Before the requests that arrived during the claim are handled: a command among them needs it.
      startCompanion();
    }
    List<Message<WireMessage>> waiting = new ArrayList<>(early);
    early.clear();
    waiting.forEach(this::handle);
  }

  @Override
  public Future<?> stop() {
    stopCompanion();
    services.owners().remove(this);
    services.owners().retired(this);
    return consumer == null ? Future.succeededFuture() : consumer.unregister().recover(e -> Future.succeededFuture());
  }

  // ------------------------------------------------------------------------------------ dispatch

  private void handle(Message<WireMessage> message) {
    if (Expiry.expired(message)) {
      // Its sender stopped waiting long ago (it sat in the network through a partition, or behind a slow
      // claim): applying it now would store a write whose writer was told the outcome is unknown, at a
      // place readers have moved past.
      log.debug("{} for {} arrived after its sender gave up: dropped", message.body().getClass().getSimpleName(), stream);
      message.fail(StreamRouter.OUTCOME_UNKNOWN_CODE, "the request arrived after its sender stopped waiting");
      return;
    }
    lastActivity = now();
    if (!ready) {
      early.add(message);
      return;
    }
    if (retired) {
      StreamOwner successor = services.owners().get(stream);
      if (successor != null && successor != this) {
        // A new owner runs on this node already (this one passivated, or stepped down and the stream
        // came back here): hand it the request rather than send the client round again.
        successor.deliver(message);
      } else {
        services.owners().redirected();
        message.reply(moved());
      }
      return;
    }
    WireMessage body = message.body();
    if (body instanceof StreamRequest.Append r) {
      append(message, r.spec());
    } else if (body instanceof StreamRequest.Read r) {
      read(message, r);
    } else if (body instanceof StreamRequest.Subscribe r) {
      subscribe(message, r);
    } else if (body instanceof StreamRequest.Ping r) {
      ping(message, r);
    } else if (body instanceof StreamRequest.Unsubscribe r) {
      live.unsubscribe(r.node(), r.subscription());
      message.reply(StreamReply.of(Outcome.OK).build());
    } else if (body instanceof StreamRequest.Create r) {
      create(message, r.spec());
    } else if (body instanceof StreamRequest.Delete) {
      delete(message);
    } else if (body instanceof StreamRequest.TakeForkData r && companion != null) {
      // A stream with a companion (a session) is read only through its companion's rules: its data
      // never leaves through a fork, whatever path the fork request took to get here.
      message.reply(StreamReply.refusal(Outcome.FORBIDDEN, "session streams cannot be forked"));
    } else if (body instanceof StreamRequest.TakeForkData r) {
      execute(new StreamProcessors.ForkData(r.fork(), r.contentType(), visibleLimit(), fence, now()))
          .onComplete(ar -> reply(message, ar, true));
    } else if (body instanceof StreamRequest.ReleaseFork) {
      execute(new StreamProcessors.ReleaseRef(fence)).onComplete(ar -> {
        if (ar.succeeded() && ar.result().outcome() == Outcome.DELETED) {
          gone();
          if (ar.result().releaseSource() != null) {
            releaseForkReference(ar.result().releaseSource());
          }
        }
        reply(message, ar, true);
      });
    } else if (body instanceof StreamRequest.Expired) {
      gone();
      message.reply(StreamReply.of(Outcome.OK).build());
    } else if (body instanceof StreamRequest.Describe) {
      describe(message);
    } else if (body instanceof StreamRequest.Command r) {
      command(message, r);
    } else {
      message.fail(400, "unknown request " + body.getClass().getSimpleName());
    }
  }

  /** Runs a processor; a stale-owner answer retires this owner and becomes {@link Outcome#MOVED}. */
  private Future<StreamReply> execute(StreamProcessors.Primary processor) {
    services.owners().operationCounter().incrementAndGet();
    operations++;
    return services.store().execute(stream, processor, context)
        .andThen(ar -> {
          services.owners().operationCounter().decrementAndGet();
          operations--;
        })
        .recover(failure -> {
          if (failure instanceof io.tether.stream.StreamStore.NotSubmitted) {
            // This member's Hazelcast is going away: nothing ran; the request goes to the next owner.
            retire("this member is leaving the cluster");
            return Future.succeededFuture(moved());
          }
          return Future.failedFuture(failure);
        })
        .map(reply -> {
      if (reply.outcome() == Outcome.STALE_OWNER) {
        retire("fenced by epoch " + reply.ownerEpoch() + " on " + reply.ownerNode());
        return moved();
      }
      if (reply.outcome() == Outcome.NOT_FOUND && reply.releaseSource() != null) {
        // The stream expired while we looked at it.
        gone();
        releaseForkReference(reply.releaseSource());
      }
      return reply;
    });
  }

  /**
   * Answers with the processor's reply, or with the failure as the router understands it: a write that
   * failed may have been applied on the primary without its backup, so its outcome is unknown (and the
   * client is told so, never 2xx); a read that failed may be retried.
   */
  private static void reply(Message<WireMessage> message, io.vertx.core.AsyncResult<StreamReply> ar, boolean write) {
    if (ar.succeeded()) {
      message.reply(ar.result());
    } else {
      fail(message, ar.cause(), write);
    }
  }

  static void fail(Message<?> message, Throwable cause, boolean write) {
    if (cause instanceof Refused refused) {
      message.reply(refused.reply);
    } else if (cause instanceof com.hazelcast.splitbrainprotection.SplitBrainProtectionException) {
      message.reply(StreamReply.refusal(Outcome.NO_QUORUM, "this node is not on the majority side of the cluster"));
    } else if (write) {
      // Rare outside faults, and each one is a writer told that it cannot know: worth a line each.
      log.info("a write to {} is answered outcome unknown: {}", message.address(), cause.toString());
      message.fail(StreamRouter.OUTCOME_UNKNOWN_CODE, String.valueOf(cause.getMessage()));
    } else if (cause instanceof com.hazelcast.core.HazelcastException) {
      message.fail(StreamRouter.UNAVAILABLE_CODE, String.valueOf(cause.getMessage()));
    } else {
      message.fail(500, String.valueOf(cause.getMessage()));
    }
  }

  // ------------------------------------------------------------------------------------ writes

  private void append(Message<WireMessage> message, AppendSpec spec) {
    if (companion != null) {
      // The companion is the stream's only writer (a session is written through the session API).
      message.reply(StreamReply.refusal(Outcome.FORBIDDEN, "this stream is written by its session only"));
      return;
    }
    appendSpec(spec, Expiry.deadline(message, now() + services.config().requestTimeoutMillis())).onComplete(ar -> {
      if (ar.failed()) {
        fail(message, ar.cause(), true);
        return;
      }
      StreamReply reply = ar.result();
      if (reply.outcome() == Outcome.DUPLICATE && reply.next() != null && reply.next().index() > live.watermark()) {
        // A retry whose original may still be waiting for its backup (or failed without one): answer
        // once everything up to the tail it saw is committed, never before.
        held.add(new Held(reply.next().index(), message, reply));
        if (unreplicated || live.hasGap()) {
          scheduleResync();
        }
        return;
      }
      message.reply(reply);
    });
  }

  private Future<StreamReply> appendSpec(AppendSpec spec) {
    return appendSpec(spec, now() + services.config().requestTimeoutMillis());
  }

  /**
   * Appends as this owner's next numbered append. When Hazelcast cannot say whether it was applied (the
   * member running it left, or its backup did not confirm it), the same numbered append is sent again
   * until the stream says whether it was ({@link AppendResolver}), up to {@code deadline} (the writer's wait).
   */
  private Future<StreamReply> appendSpec(AppendSpec spec, long deadline) {
    long started = System.nanoTime();
    return appends.append(spec, deadline).andThen(ar -> {
      if (ar.failed()) {
        // The processor may have run on the primary without its backup acknowledging: nothing past this
        // point is shown until the whole stream has been re-replicated.
        unreplicated = true;
        scheduleResync();
        return;
      }
      StreamReply reply = ar.result();
      if (reply.outcome() == Outcome.APPENDED) {
        services.metrics().appended(System.nanoTime() - started);
        live.acknowledged(reply.next().index());
        live.appended(reply.start(), spec.payload(), spec.close());
        progressed();
      } else {
        services.metrics().appendRefused();
      }
    });
  }

  /** Runs an append's processor; an append applied without a confirmed backup fails as {@link UnconfirmedWrite}. */
  private Future<StreamReply> attempt(StreamProcessors.Primary processor) {
    return execute(processor).compose(reply -> {
      String unconfirmed = reply.outcome() == Outcome.APPENDED ? services.cluster().whyNotReplicated(stream) : null;
      return unconfirmed != null ? Future.failedFuture(new UnconfirmedWrite(unconfirmed)) : Future.succeededFuture(reply);
    });
  }

  // ------------------------------------------------------------------------------------ companion

  private void command(Message<WireMessage> message, StreamRequest.Command r) {
    if (companion == null) {
      message.reply(StreamReply.refusal(Outcome.NOT_FOUND, "no session for this stream"));
      return;
    }
    companion.command(r.json()).onComplete(ar -> {
      if (ar.succeeded()) {
        message.reply(new CommandReply(ar.result()));
      } else if (ar.cause() instanceof OwnerCompanion.Stopped) {
        message.reply(moved());
      } else {
        fail(message, ar.cause(), true);
      }
    });
  }

  private void startCompanion() {
    if (companion != null || retired || services.companions() == null) {
      return;
    }
    companion = services.companions().create(new Handle());
    if (companion != null) {
      companion.start();
    }
  }

  private void stopCompanion() {
    if (companion != null) {
      OwnerCompanion stopping = companion;
      companion = null;
      stopping.stop();
    }
  }

  /** The companion's view of this owner. */
  private final class Handle implements OwnerHandle {
    @Override
    public String stream() {
      return stream;
    }

    @Override
    public io.vertx.core.Context context() {
      return context;
    }

    @Override
    public Future<StreamReply> append(byte[] payload) {
      if (retired) {
        return Future.succeededFuture(moved());
      }
      return appendSpec(new AppendSpec(payload, io.tether.stream.ContentTypes.JSON, false, null, null));
    }

    @Override
    public Future<StreamReply> read(ReadStart from, long maxBytes) {
      return execute(new StreamProcessors.Read(from, maxBytes, visibleLimit(), fence, now(), true));
    }

    @Override
    public void retire(String why) {
      StreamOwner.this.retire(why);
    }
  }

  private void create(Message<WireMessage> message, CreateSpec spec) {
    if (!exists && services.store().atCapacity(services.config().maxStreamsPerNode())) {
      // Full: a PUT of a stream that exists still answers as usual; a new one is refused.
      execute(createProcessor(spec, List.of(), null, -1, true)).onComplete(ar -> {
        if (ar.succeeded() && ar.result().outcome() == Outcome.ABSENT) {
          message.reply(StreamReply.refusal(Outcome.LIMIT_REACHED, "the member that would hold this stream holds "
              + services.config().maxStreamsPerNode() + " streams, its maximum (TETHER_MAX_STREAMS_PER_NODE)"));
        } else if (ar.failed()) {
          reply(message, ar, true);
        } else {
          createWithinLimit(message, spec);
        }
      });
      return;
    }
    createWithinLimit(message, spec);
  }

  private void createWithinLimit(Message<WireMessage> message, CreateSpec spec) {
    if (spec.fork() == null) {
      execute(createProcessor(spec, List.of(), null, -1, false)).onComplete(ar -> {
        String unconfirmed = ar.succeeded() && ar.result().outcome() == Outcome.CREATED
            ? services.cluster().whyNotReplicated(stream) : null;
        if (unconfirmed != null) {
          fail(message, new UnconfirmedWrite(unconfirmed), true);
          return;
        }
        if (ar.succeeded()) {
          afterCreate(ar.result());
        }
        reply(message, ar, true);
      });
      return;
    }
    // Fork: probe first so that an idempotent re-PUT takes no new reference on the source.
    execute(createProcessor(spec, List.of(), null, -1, true)).compose(probe -> {
      if (probe.outcome() != Outcome.ABSENT) {
        return Future.succeededFuture(probe);
      }
      ForkSpec fork = spec.fork();
      return services.router().request(fork.source(), new StreamRequest.TakeForkData(fork, spec.settings().contentType()))
          .compose(data -> {
            if (data.outcome() != Outcome.OK) {
              return Future.succeededFuture(data);
            }
            StreamSettings source = data.settings();
            StreamSettings own = spec.settings().contentType() == null
                ? spec.settings().withContentType(source.contentType()) : spec.settings();
            CreateSpec resolved = new CreateSpec(own.inheritExpiryFrom(source), spec.initialEvents(), spec.closed(), fork);
            return execute(createProcessor(resolved, data.events(), data.start(), data.next().index(), false))
                .map(created -> {
                  if (created.outcome() != Outcome.CREATED) {
                    releaseForkReference(fork.source());
                  }
                  return created;
                });
          });
    }).onComplete(ar -> {
      if (ar.succeeded()) {
        afterCreate(ar.result());
      }
      reply(message, ar, true);
    });
  }

  private StreamProcessors.Create createProcessor(CreateSpec spec, List<byte[]> inherited, Offset inheritedStart,
                                                  long forkIndex, boolean probe) {
    return new StreamProcessors.Create(spec, inherited, inheritedStart, forkIndex, services.config().ringLimits(),
        ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE), fence, services.nodeId(), now(), probe);
  }

  private void afterCreate(StreamReply reply) {
    if (reply.outcome() == Outcome.CREATED) {
      fence = new Fence(reply.ownerEpoch(), token);
      incarnation = reply.incarnation();
      live.start(reply.next().index());
      unreplicated = false;
      stopCompanion();
      exists = true;
      startCompanion();
    }
    if (reply.releaseSource() != null) {
      releaseForkReference(reply.releaseSource());
    }
  }

  private void delete(Message<WireMessage> message) {
    execute(new StreamProcessors.Delete(fence, now())).onComplete(ar -> {
      if (ar.succeeded() && ar.result().outcome() == Outcome.DELETED) {
        gone();
        if (ar.result().releaseSource() != null) {
          releaseForkReference(ar.result().releaseSource());
        }
      }
      reply(message, ar, true);
    });
  }

  private void releaseForkReference(String source) {
    services.router().request(source, new StreamRequest.ReleaseFork()).onFailure(e ->
        log.warn("could not release the fork reference of {} on {}: {}", stream, source, e.getMessage()));
  }

  // ------------------------------------------------------------------------------------ reads

  private void read(Message<WireMessage> message, StreamRequest.Read r) {
    execute(new StreamProcessors.Read(r.start(), r.maxBytes(), visibleLimit(), fence, now(), r.touch())).onComplete(ar -> {
      if (ar.succeeded() && r.maxBytes() > 0 && ar.result().outcome() == Outcome.OK) {
        services.metrics().replayed(ar.result().events().size(), ar.result().eventBytes());
      }
      reply(message, ar, false);
    });
  }

  private void describe(Message<WireMessage> message) {
    execute(new StreamProcessors.Read(ReadStart.NOW, 0, visibleLimit(), fence, now(), false)).onComplete(ar -> {
      if (ar.failed()) {
        fail(message, ar.cause(), false);
      } else if (ar.result().outcome() != Outcome.OK) {
        message.reply(ar.result());
      } else {
        StreamReply meta = ar.result();
        message.reply(new OwnerInfo(services.identity(), fence.epoch(), meta.earliest(), meta.next(), live.subscriptions()));
      }
    });
  }

  // ------------------------------------------------------------------------------------ live fan-out

  private void subscribe(Message<WireMessage> message, StreamRequest.Subscribe r) {
    LiveFanOut.Sub sub = live.subscribe(r.node(), r.subscription(), now());
    execute(new StreamProcessors.Read(r.start(), r.maxBytes(), visibleLimit(), fence, now(), true)).onComplete(ar -> {
      if (ar.failed()) {
        live.drop(sub);
        fail(message, ar.cause(), false);
        return;
      }
      StreamReply reply = ar.result();
      services.metrics().replayed(reply.events().size(), reply.eventBytes());
      if (reply.outcome() != Outcome.OK || !reply.upToDate() || reply.closed() || !live.isCurrent(sub)) {
        // Not at the tail yet (the subscriber reads on), closed, or refused: nothing to push.
        live.drop(sub);
        message.reply(reply);
        return;
      }
      message.reply(reply);
      live.activate(sub, reply.next().index());
    });
  }

  private void ping(Message<WireMessage> message, StreamRequest.Ping r) {
    long watermark = live.renew(r.node(), r.subscription(), now());
    if (watermark == LiveFanOut.NOT_SUBSCRIBED) {
      message.reply(StreamReply.of(Outcome.ABSENT).owner(fence.epoch(), services.nodeId()).build());
      return;
    }
    // The push position (index only): a subscriber behind it for two pings in a row missed a push.
    message.reply(StreamReply.of(Outcome.OK).owner(fence.epoch(), services.nodeId())
        .next(watermark >= 0 ? new Offset(watermark, 0) : null).build());
  }

  /** The watermark moved (or a hole appeared): answer what waited for it, repair what is missing. */
  private void progressed() {
    releaseHeld();
    if (live.hasGap() || unreplicated) {
      scheduleResync();
    }
  }

  /** How far reads may see: the committed watermark (no limit before the stream exists here). */
  private long visibleLimit() {
    return live.visibleLimit();
  }

  /** Sends the answers that waited for the watermark to reach their index. */
  private void releaseHeld() {
    if (held.isEmpty()) {
      return;
    }
    long watermark = live.watermark();
    held.removeIf(h -> {
      if (watermark >= h.index) {
        h.message.reply(h.reply);
        return true;
      }
      return false;
    });
  }

  private void scheduleResync() {
    if (gapTimerSet || retired) {
      return;
    }
    gapTimerSet = true;
    // Back off while the backup stays unreachable (a stalled or departed member): at most once a second.
    long delay = Math.min(1_000, GAP_WAIT_MILLIS << Math.min(resyncFailures, 4));
    vertx.setTimer(delay, t -> {
      gapTimerSet = false;
      resync();
    });
  }

  /**
   * Moves the watermark past a hole: a completion that is missing (still in flight, or failed). After a
   * failed write the state of the backup is unknown, so the whole stream is shipped to it first
   * ({@code Replicate}); otherwise the events up to the highest acknowledged append are on the backup
   * already (a backup applies appends only in order) and a read is enough.
   */
  private void resync() {
    long nextPush = live.watermark();
    long ackedEnd = live.ackedEnd();
    if (retired || nextPush < 0 || (!live.hasGap() && !unreplicated && held.isEmpty())) {
      return;
    }
    Offset from = new Offset(nextPush, 0);
    Future<StreamReply> read;
    if (unreplicated) {
      read = execute(new StreamProcessors.Replicate(new ReadStart.At(from), fence, now()));
    } else if (ackedEnd > nextPush) {
      read = execute(new StreamProcessors.Read(new ReadStart.At(from), Long.MAX_VALUE, ackedEnd, fence, now(), false));
    } else {
      // Nothing acknowledged past the watermark yet: the missing completions are still on their way.
      if (live.hasGap() || !held.isEmpty()) {
        scheduleResync();
      }
      return;
    }
    boolean replicating = unreplicated;
    read.onComplete(ar -> {
      if (ar.failed() || ar.result().outcome() != Outcome.OK
          || (replicating && !services.cluster().writeStillReplicated(stream))) {
        if (ar.succeeded() && ar.result().outcome() == Outcome.MOVED) {
          return;
        }
        resyncFailures++;
        scheduleResync();
        return;
      }
      resyncFailures = 0;
      StreamReply reply = ar.result();
      if (log.isDebugEnabled()) {
        log.debug("resync of {} from {} ({}): events {} to {}", stream, nextPush, replicating ? "replicated" : "read",
            reply.start(), reply.next());
      }
      if (replicating) {
        unreplicated = false;
        live.acknowledged(reply.next().index());
      }
      live.resynced(reply.start(), reply.events(), reply.next(), reply.closed());
      progressed();
    });
  }

  /**
   * Delivers a push to the subscriptions it names: directly when they live on this node, else over the
   * event bus to their node's live address (one message per node, no cluster look-up per event).
   */
  private void push(String node, long[] subscriptions, Offset start, List<byte[]> events, boolean closes, int signal) {
    if (log.isDebugEnabled() && !events.isEmpty()) {
      log.debug("push {} [{}, {}) epoch {} to {} on {}", stream, start.index(), start.index() + events.size(),
          fence.epoch(), subscriptions.length, node);
    }
    LivePush push = new LivePush(stream, incarnation, subscriptions, fence.epoch(), start, events, closes, signal);
    if (node.equals(services.nodeId())) {
      for (long id : push.subscriptions()) {
        LiveSubscription subscription = services.live().get(id);
        if (subscription != null) {
          subscription.onPush(push);
        }
      }
    } else {
      vertx.eventBus().send(Addresses.live(node), push);
    }
  }

  /** The stream was deleted or expired: end every subscription. */
  private void gone() {
    stopCompanion();
    held.forEach(h -> h.message.reply(moved()));
    held.clear();
    exists = false;
    live.clear();
  }

  /** Drops subscriptions whose node stopped renewing them, or that live on a node that left. */
  private void expireLeases(long now) {
    live.expire(now - services.config().leaseSeconds() * 3000L);
  }

  /** Called (on any thread) when a member leaves: its subscriptions are gone with it. */
  public void nodeLeft(String nodeId) {
    context.runOnContext(v -> live.nodeLeft(nodeId));
  }

  // ------------------------------------------------------------------------------------ upkeep

  /** Runs {@link #sweep} on this owner's context (the node's sweep calls it for every active owner). */
  void sweepAsync(long now) {
    context.runOnContext(v -> sweep(now));
  }

  /**
   * Periodic upkeep, driven by the node rather than a timer per stream: expires live subscriptions whose
   * node stopped renewing them, lets the companion do the same with presence, and passivates this owner
   * once it has been idle for {@code TETHER_OWNER_IDLE_SECONDS}.
   */
  void sweep(long now) {
    if (retired) {
      return;
    }
    expireLeases(now);
    if (companion != null) {
      companion.sweep(now);
    }
    long idleMillis = services.config().ownerIdleSeconds() * 1000L;
    if (idleMillis > 0 && now - lastActivity >= idleMillis && quiet()) {
      passivate();
    }
  }

  /**
   * Nothing depends on this owner staying up: no live reader, no answer or completion it still waits
   * for, no unreplicated write to repair, no companion work. What it holds is all in the map.
   */
  private boolean quiet() {
    return ready && early.isEmpty() && live.subscriptions() == 0 && held.isEmpty() && !live.hasGap() && !unreplicated
        && !gapTimerSet && operations == 0 && (companion == null || !companion.busy());
  }

  /**
   * Retires an idle owner: its address, timers and memory go; the stream stays in the map. The next
   * request finds no handler and activates a new owner, which claims the stream with a higher epoch
   * exactly as after a failover (and restores the session's companion from its snapshot). Requests that
   * reach this owner while it still answers go to that successor ({@link #handle}).
   */
  private void passivate() {
    log.debug("owner of {} on {} passivates after {} s idle", stream, services.nodeId(),
        services.config().ownerIdleSeconds());
    services.metrics().passivated();
    stepDown();
  }

  /** Hands a request to this owner from another one of the same stream on this node. */
  void deliver(Message<WireMessage> message) {
    context.runOnContext(v -> handle(message));
  }

  // ------------------------------------------------------------------------------------ retirement

  /**
   * Steps down: another owner holds a newer epoch, or this node is handing the stream over. Live
   * subscribers are told to subscribe again (they will reach the new owner), then the address is
   * unregistered and the verticle undeployed.
   */
  void retire(String why) {
    if (retired) {
      return;
    }
    log.info("owner of {} on {} steps down: {}", stream, services.nodeId(), why);
    stepDown();
  }

  private void stepDown() {
    retired = true;
    stopCompanion();
    // Held duplicates go to the next owner, which answers them from a claimed, replicated state.
    held.forEach(h -> h.message.reply(moved()));
    held.clear();
    live.endAll(LivePush.SIGNAL_MOVED);
    services.owners().remove(this);
    services.owners().retiring(this);
    // Stay registered for a while, answering MOVED: a request that other nodes still route here gets a
    // prompt redirect instead of being dropped by an address that has no handler any more.
    vertx.setTimer(RETIRED_GRACE_MILLIS, t -> vertx.undeploy(deploymentID())
        .onFailure(e -> log.debug("undeploy of {} failed: {}", stream, e.getMessage())));
  }

  /** Unregisters the stream's address now (end of a graceful shutdown). */
  Future<Void> unregister() {
    Promise<Void> done = Promise.promise();
    context.runOnContext(v -> (consumer == null ? Future.<Void>succeededFuture() : consumer.unregister())
        .onComplete(ar -> done.complete()));
    return done.future();
  }

  /** Runs {@link #retire} on this owner's context. */
  public void retireAsync(String why) {
    context.runOnContext(v -> retire(why));
  }

  private StreamReply moved() {
    return StreamReply.of(Outcome.MOVED).detail("stream owner moved").build();
  }

  private static long now() {
    return System.currentTimeMillis();
  }

  /** Thrown from {@link #start()} when the stream does not exist and the request may not create it. */
  public static final class NotFound extends RuntimeException {
    NotFound() {
      super("stream not found", null, false, false);
    }
  }

  private record Held(long index, Message<WireMessage> message, StreamReply reply) {
  }

  /** A write that completed without a confirmed backup (its backup member left meanwhile). */
  static final class UnconfirmedWrite extends AppendResolver.InDoubt {
    UnconfirmedWrite(String why) {
      super("the write completed without a confirmed backup copy: " + why);
    }
  }

  /** The member refused to act for this stream now (minority side, pause, no backup): answered as is. */
  public static final class Refused extends RuntimeException {
    public final StreamReply reply;

    Refused(StreamReply reply) {
      super(reply.detail(), null, false, false);
      this.reply = reply;
    }
  }
}
