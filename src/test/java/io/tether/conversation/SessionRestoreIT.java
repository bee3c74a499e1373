package io.tether.conversation;

import io.tether.TetherNode;
import io.tether.cluster.owner.OwnerHandle;
import io.tether.ops.TetherMetrics;
import io.tether.stream.JsonBatch;
import io.tether.stream.Offset;
import io.tether.stream.Outcome;
import io.tether.stream.ReadStart;
import io.tether.stream.StreamReply;
import io.tether.support.TestNodes;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

import static io.tether.conversation.SessionEvents.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A new owner restoring a session whose previous owner died at an awkward moment: between the last
 * event of an answer and the event that closes the turn, or between a tool request and its
 * awaiting-approval event. The session's stream is an in-memory stand-in for the owner's fenced
 * stream, pre-filled with what the previous owner managed to append; the model records its calls.
 */
class SessionRestoreIT {

  private static TetherNode node;
  private static ConversationServices services;
  private static final List<ChatRequest> modelCalls = new CopyOnWriteArrayList<>();
  /** What the model answers to a call: text deltas, then finished("stop"). */
  private static volatile List<String> modelAnswer = List.of();
  /** Milliseconds between the model's deltas; 0: all at once. */
  private static volatile long modelGapMillis;
  /** Deltas the model has sent in its current call. */
  private static final AtomicInteger modelSent = new AtomicInteger();

  @BeforeAll
  static void start() {
    node = TestNodes.start(Map.of());
    ChatModel recording = new ChatModel() {
      @Override
      public ModelCall stream(ChatRequest request, ModelSink sink) {
        modelCalls.add(request);
        List<String> answer = modelAnswer;
        long gap = modelGapMillis;
        modelSent.set(0);
        Context context = node.vertx().getOrCreateContext();
        if (gap > 0) {
          // One delta, then the next one gap ms after it (as a model streams tokens): each timer is set
          // when the one before fired, so a busy event loop never bunches two tokens together.
          context.runOnContext(v -> streamFrom(0, answer, gap, sink));
          return () -> {
          };
        }
        context.runOnContext(v -> {
          answer.forEach(sink::text);
          sink.finished("stop");
        });
        return () -> {
        };
      }

      @Override
      public String name() {
        return "recording";
      }
    };
    services = new ConversationServices(node.config(), recording, Tools.defaults(),
        new SessionStore(node.hazelcast()), node.vertx().createHttpClient(), new TetherMetrics());
  }

  private static void streamFrom(int index, List<String> answer, long gap, ChatModel.ModelSink sink) {
    node.vertx().setTimer(gap, t -> {
      if (index < answer.size()) {
        sink.text(answer.get(index));
        modelSent.incrementAndGet();
        streamFrom(index + 1, answer, gap, sink);
      } else {
        sink.finished("stop");
      }
    });
  }

  @AfterAll
  static void stop() {
    TestNodes.stop(node);
  }

  private static JsonObject e(String type) {
    return new JsonObject().put("type", type);
  }

  /** The events of a first turn whose answer "Hello world." was written in full. */
  private static List<JsonObject> answeredTurn(String finishReason) {
    return List.of(
        e(SESSION_CREATED),
        e(USER_MESSAGE).put("messageId", "m1").put("turn", 1).put("text", "hi").put("device", "d1"),
        e(GENERATION_STARTED).put("turn", 1).put("model", "recording"),
        e(ASSISTANT_START).put("messageId", "a1").put("turn", 1),
        e(ASSISTANT_DELTA).put("messageId", "a1").put("text", "Hello"),
        e(ASSISTANT_DELTA).put("messageId", "a1").put("text", " world."),
        e(ASSISTANT_END).put("messageId", "a1").put("finishReason", finishReason));
  }

  /** Starts a companion on a stream holding {@code events}; answers the stream. */
  private static MemoryStream restore(List<JsonObject> events) {
    modelCalls.clear();
    MemoryStream stream = new MemoryStream("sessions/restore-" + UUID.randomUUID(), node.vertx().getOrCreateContext());
    events.forEach(stream::put);
    stream.companion = new SessionCompanion(stream, services, node.vertx());
    stream.context().runOnContext(v -> stream.companion.start());
    return stream;
  }

  @Test
  void anAppendRefusedForWantOfABackupIsTriedAgainNotGivenUp() {
    modelCalls.clear();
    MemoryStream stream = new MemoryStream("sessions/restore-" + UUID.randomUUID(), node.vertx().getOrCreateContext());
    answeredTurn("stop").forEach(stream::put);
    // The partition's backup was on a member that just left: the first appends are refused, nothing
    // written, until the cluster has copied the partition again.
    stream.refuseUnderReplicated.set(4);
    stream.companion = new SessionCompanion(stream, services, node.vertx());
    stream.context().runOnContext(v -> stream.companion.start());

    await().atMost(Duration.ofSeconds(10)).until(() -> stream.types().contains(GENERATION_COMPLETED));
    assertThat(stream.refused.get()).isEqualTo(4);
    assertThat(stream.retired).as("the session owner stepped down").isNull();
    assertThat(stream.appended()).extracting(j -> j.getString("type")).containsExactly(GENERATION_COMPLETED);
  }

  @Test
  void anAnswerThatHadEndedIsClosedNotGeneratedAgain() {
    MemoryStream stream = restore(answeredTurn("stop"));

    await().atMost(Duration.ofSeconds(10)).until(() -> stream.types().contains(GENERATION_COMPLETED));
    assertThat(stream.appended()).extracting(j -> j.getString("type")).containsExactly(GENERATION_COMPLETED);
    assertThat(stream.appended().get(0).getInteger("turn")).isEqualTo(1);
    assertThat(modelCalls).isEmpty();
  }

  @Test
  void anAnswerStoppedByADeviceEndsTheTurnAsStopped() {
    MemoryStream stream = restore(answeredTurn("stopped"));

    await().atMost(Duration.ofSeconds(10)).until(() -> stream.types().contains(GENERATION_STOPPED));
    assertThat(stream.appended()).extracting(j -> j.getString("type")).containsExactly(GENERATION_STOPPED);
    assertThat(modelCalls).isEmpty();
  }

  @Test
  void anAnswerInProgressIsResumedFromItsText() {
    List<JsonObject> cut = new ArrayList<>(answeredTurn("stop"));
    cut.remove(cut.size() - 1);
    cut.remove(cut.size() - 1);
    modelAnswer = List.of(" world.");
    MemoryStream stream = restore(cut);

    await().atMost(Duration.ofSeconds(10)).until(() -> stream.types().contains(GENERATION_COMPLETED));
    assertThat(modelCalls).hasSize(1);
    assertThat(modelCalls.get(0).partialAnswer()).isEqualTo("Hello");
    assertThat(stream.appended()).extracting(j -> j.getString("type"))
        .containsExactly(GENERATION_RESUMED, ASSISTANT_DELTA, ASSISTANT_END, GENERATION_COMPLETED);
    assertThat(stream.appended().get(0).getInteger("afterChars")).isEqualTo(5);
    String text = stream.all().stream().filter(j -> j.getString("type").equals(ASSISTANT_DELTA))
        .map(j -> j.getString("text")).collect(Collectors.joining());
    assertThat(text).isEqualTo("Hello world.");
  }

  /**
   * While an append is in flight (a loaded node, a slow backup), the text the model streams meanwhile goes
   * out as one delta once it is in, not as one queued append per token: a session has one delta in
   * flight at most, so slow appends grow the deltas instead of the queue.
   */
  @Test
  void textThatArrivesWhileAnAppendIsInFlightGoesOutAsOneDelta() {
    List<JsonObject> cut = new ArrayList<>(answeredTurn("stop"));
    cut.remove(cut.size() - 1);
    cut.remove(cut.size() - 1);
    List<String> words = List.of(" one", " two", " three", " four", " five", " six", " seven", " eight");
    modelAnswer = words;
    // Three times the coalescing window between tokens: without an append in flight, each is its own delta.
    modelGapMillis = 3 * node.config().coalesceMillis();
    try {
      MemoryStream stream = new MemoryStream("sessions/restore-" + UUID.randomUUID(), node.vertx().getOrCreateContext());
      cut.forEach(stream::put);
      Promise<Void> gate = Promise.promise();
      stream.hold = gate.future();
      stream.companion = new SessionCompanion(stream, services, node.vertx());
      stream.context().runOnContext(v -> stream.companion.start());

      // The resume's first append (generation.resumed) is held until the model has sent every word.
      await().atMost(Duration.ofSeconds(10)).until(() -> modelSent.get() == words.size());
      stream.context().runOnContext(v -> gate.complete());

      await().atMost(Duration.ofSeconds(10)).until(() -> stream.types().contains(GENERATION_COMPLETED));
      List<String> deltas = stream.appended().stream().filter(j -> j.getString("type").equals(ASSISTANT_DELTA))
          .map(j -> j.getString("text")).toList();
      assertThat(deltas).containsExactly(String.join("", words));
      assertThat(stream.appended()).extracting(j -> j.getString("type"))
          .containsExactly(GENERATION_RESUMED, ASSISTANT_DELTA, ASSISTANT_END, GENERATION_COMPLETED);
    } finally {
      modelGapMillis = 0;
    }
  }

  /** Without an append in flight, tokens further apart than the coalescing window are deltas of their own. */
  @Test
  void tokensFurtherApartThanTheWindowAreDeltasOfTheirOwnWhenAppendsKeepUp() {
    List<JsonObject> cut = new ArrayList<>(answeredTurn("stop"));
    cut.remove(cut.size() - 1);
    cut.remove(cut.size() - 1);
    List<String> words = List.of(" one", " two", " three", " four");
    modelAnswer = words;
    modelGapMillis = 10 * node.config().coalesceMillis();
    try {
      MemoryStream stream = restore(cut);
      await().atMost(Duration.ofSeconds(10)).until(() -> stream.types().contains(GENERATION_COMPLETED));
      List<String> deltas = stream.appended().stream().filter(j -> j.getString("type").equals(ASSISTANT_DELTA))
          .map(j -> j.getString("text")).toList();
      assertThat(deltas).containsExactlyElementsOf(words);
    } finally {
      modelGapMillis = 0;
    }
  }

  @Test
  void aToolRequestWhoseApprovalWaitWasLostStillWaitsForADecision() {
    List<JsonObject> events = new ArrayList<>(answeredTurn("tool_calls"));
    events.add(e(TOOL_REQUESTED).put("callId", "c1").put("messageId", "a1").put("turn", 1).put("name", "get_weather")
        .put("arguments", "{\"city\":\"Oslo\"}").put("approval", true).put("executor", "builtin"));
    MemoryStream stream = restore(events);

    await().atMost(Duration.ofSeconds(10)).until(() -> stream.types().contains(TOOL_AWAITING_APPROVAL));
    assertThat(stream.appended()).extracting(j -> j.getString("type")).containsExactly(TOOL_AWAITING_APPROVAL);
    assertThat(stream.appended().get(0).getString("callId")).isEqualTo("c1");
    assertThat(modelCalls).isEmpty();
  }

  @Test
  void aTurnContinuingAfterToolResultsCallsTheModelAgain() {
    List<JsonObject> events = new ArrayList<>(answeredTurn("tool_calls"));
    events.add(e(TOOL_REQUESTED).put("callId", "c1").put("messageId", "a1").put("turn", 1).put("name", "get_weather")
        .put("arguments", "{\"city\":\"Oslo\"}").put("approval", false).put("executor", "builtin"));
    events.add(e(TOOL_RUNNING).put("callId", "c1").put("executor", "builtin"));
    events.add(e(TOOL_COMPLETED).put("callId", "c1").put("result", "sunny"));
    events.add(e(GENERATION_RESUMED).put("turn", 1).put("afterChars", 0).put("reason", "tool_results"));
    modelAnswer = List.of("It is sunny.");
    MemoryStream stream = restore(events);

    await().atMost(Duration.ofSeconds(10)).until(() -> stream.types().contains(GENERATION_COMPLETED));
    assertThat(modelCalls).hasSize(1);
    assertThat(stream.appended()).extracting(j -> j.getString("type"))
        .containsExactly(GENERATION_RESUMED, ASSISTANT_START, ASSISTANT_DELTA, ASSISTANT_END, GENERATION_COMPLETED);
  }

  @Test
  void aMessageAndTheStartOfItsTurnAreOneStreamEvent() {
    modelAnswer = List.of("Hi.");
    MemoryStream stream = restore(List.of(e(SESSION_CREATED)));
    stream.context().runOnContext(v -> stream.companion.command(new JsonObject().put("type", SessionCommand.MESSAGE)
        .put("text", "hi").put("messageId", "m1").put("device", "d1").encode()));

    await().atMost(Duration.ofSeconds(10)).until(() -> stream.types().contains(GENERATION_COMPLETED));
    // Whenever the owner dies, the next one finds either neither event or both: a retried message is
    // then either taken afresh or already has its turn under way, never accepted and left unanswered.
    List<String> first = stream.appendedEvents().get(0);
    assertThat(first).extracting(m -> new JsonObject(m).getString("type")).containsExactly(USER_MESSAGE, GENERATION_STARTED);
  }

  /** An in-memory session stream: what the previous owner wrote, then what the companion appends. */
  private static final class MemoryStream implements OwnerHandle {
    private final String name;
    private final Context context;
    private final List<byte[]> events = new CopyOnWriteArrayList<>();
    private volatile int restoredCount;
    SessionCompanion companion;
    /** Why the companion gave the stream up, if it did (it must not). */
    volatile String retired;
    /** Appends complete once this has (a slow append); completed by default. */
    volatile Future<Void> hold = Future.succeededFuture();
    /** How many appends to refuse for want of a backup copy (a member that held it left), and did. */
    final java.util.concurrent.atomic.AtomicInteger refuseUnderReplicated = new java.util.concurrent.atomic.AtomicInteger();
    final java.util.concurrent.atomic.AtomicInteger refused = new java.util.concurrent.atomic.AtomicInteger();

    MemoryStream(String name, Context context) {
      this.name = name;
      this.context = context;
    }

    void put(JsonObject event) {
      events.add(event.encode().getBytes(StandardCharsets.UTF_8));
      restoredCount = events.size();
    }

    List<JsonObject> all() {
      return events.stream().flatMap(b -> JsonBatch.messagesOf(b).stream())
          .map(m -> new JsonObject(new String(m, StandardCharsets.UTF_8))).toList();
    }

    /** The messages the companion appended. */
    List<JsonObject> appended() {
      return appendedEvents().stream().flatMap(List::stream).map(JsonObject::new).toList();
    }

    /** The events the companion appended, each as its messages (one JSON batch may carry several). */
    List<List<String>> appendedEvents() {
      return events.subList(restoredCount, events.size()).stream()
          .map(b -> JsonBatch.messagesOf(b).stream().map(m -> new String(m, StandardCharsets.UTF_8)).toList())
          .toList();
    }

    List<String> types() {
      assertThat(retired).as("the companion gave the stream up").isNull();
      return appended().stream().map(j -> j.getString("type")).toList();
    }

    private Offset offsetOf(int index) {
      Offset at = Offset.ZERO;
      for (int i = 0; i < index; i++) {
        at = at.plus(events.get(i).length);
      }
      return at;
    }

    @Override
    public String stream() {
      return name;
    }

    @Override
    public Context context() {
      return context;
    }

    @Override
    public Future<StreamReply> append(byte[] payload) {
      if (refuseUnderReplicated.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
        refused.incrementAndGet();
        return Future.succeededFuture(StreamReply.refusal(Outcome.UNDER_REPLICATED, "no backup copy right now"));
      }
      return hold.map(v -> {
        Offset start = offsetOf(events.size());
        events.add(payload);
        return StreamReply.of(Outcome.APPENDED).start(start).next(start.plus(payload.length)).build();
      });
    }

    @Override
    public Future<StreamReply> read(ReadStart from, long maxBytes) {
      int first = from instanceof ReadStart.At at ? (int) at.offset().index() : 0;
      List<byte[]> page = new ArrayList<>(events.subList(first, events.size()));
      return Future.succeededFuture(StreamReply.of(Outcome.OK).start(offsetOf(first)).next(offsetOf(events.size()))
          .events(page).upToDate(true).build());
    }

    @Override
    public void retire(String why) {
      retired = why;
    }
  }
}
