package io.tether.conversation;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The built-in model: deterministic answers, continuation after a partial answer, tool requests, pauses. */
class SimulatedModelTest {

  private final Vertx vertx = Vertx.vertx();

  @AfterEach
  void close() {
    vertx.close();
  }

  private static ChatRequest ask(String prompt, String partial) {
    return new ChatRequest(List.of(new JsonObject().put("role", "user").put("content", prompt)), null, partial);
  }

  private record Run(StringBuilder text, List<ChatModel.ToolCallRequest> tools, CompletableFuture<String> finish) {
  }

  private Run run(SimulatedModel model, ChatRequest request) {
    Run run = new Run(new StringBuilder(), new CopyOnWriteArrayList<>(), new CompletableFuture<>());
    vertx.runOnContext(v -> model.stream(request, new ChatModel.ModelSink() {
      @Override
      public void text(String delta) {
        run.text.append(delta);
      }

      @Override
      public void toolCall(ChatModel.ToolCallRequest call) {
        run.tools.add(call);
      }

      @Override
      public void finished(String finishReason) {
        run.finish.complete(finishReason);
      }

      @Override
      public void failed(Throwable cause) {
        run.finish.completeExceptionally(cause);
      }
    }));
    return run;
  }

  @Test
  void theSamePromptAlwaysGetsTheSameAnswer() throws Exception {
    SimulatedModel model = new SimulatedModel(vertx, 1000, 20, 0);
    Run first = run(model, ask("hello", ""));
    assertThat(first.finish.get()).isEqualTo("stop");
    assertThat(first.text.toString()).isEqualTo(SimulatedModel.answer(ask("hello", ""), 20));
    assertThat(first.text.toString()).startsWith("You asked: \"hello\". ").endsWith(".");
  }

  @Test
  void aResumedTurnContinuesExactlyAfterThePartialAnswer() throws Exception {
    SimulatedModel model = new SimulatedModel(vertx, 1000, 20, 0);
    String full = SimulatedModel.answer(ask("hello", ""), 20);
    String partial = full.substring(0, 23);
    Run rest = run(model, ask("hello", partial));
    rest.finish.get();
    assertThat(partial + rest.text).isEqualTo(full);
  }

  @Test
  void aWeatherQuestionAsksForTheToolFirst() throws Exception {
    Run run = run(new SimulatedModel(vertx, 1000, 20, 0), ask("What's the weather in Lisbon?", ""));
    assertThat(run.finish.get()).isEqualTo("tool_calls");
    assertThat(run.tools).singleElement().satisfies(call -> {
      assertThat(call.name()).isEqualTo("get_weather");
      assertThat(new JsonObject(call.arguments()).getString("city")).isEqualTo("Lisbon");
    });
    assertThat(run.text.toString()).isEmpty();
  }

  @Test
  void thinkPausesBeforeTheFirstWord() {
    Run run = run(new SimulatedModel(vertx, 1000, 5, 0), ask("/think 1 then answer", ""));
    long started = System.nanoTime();
    await().atMost(Duration.ofSeconds(10)).until(() -> run.text.length() > 0);
    assertThat(Duration.ofNanos(System.nanoTime() - started)).isGreaterThanOrEqualTo(Duration.ofMillis(900));
  }

  @Test
  void speedSetsTheWordRateOfThatPrompt() {
    // 6 words at 4 per second: at least 5 intervals of 250 ms, where the model's own rate is 1000 per second.
    Run slow = run(new SimulatedModel(vertx, 1000, 6, 0), ask("/speed 4 slowly please", ""));
    long started = System.nanoTime();
    await().atMost(Duration.ofSeconds(20)).until(slow.finish::isDone);
    assertThat(Duration.ofNanos(System.nanoTime() - started)).isGreaterThanOrEqualTo(Duration.ofMillis(1_200));
    assertThat(slow.text.toString()).isEqualTo(SimulatedModel.answer(ask("/speed 4 slowly please", ""), 6));
  }

  @Test
  void wordsDueWhileTheEventLoopWasBusyComeTogetherAtTheModelsPace() throws Exception {
    // 40 words at 20 per second take 2 s by the model's clock, however late this node's timers fire.
    SimulatedModel model = new SimulatedModel(vertx, 20, 40, 0);
    List<String> deltas = new CopyOnWriteArrayList<>();
    CompletableFuture<String> finish = new CompletableFuture<>();
    io.vertx.core.Context context = vertx.getOrCreateContext();
    context.runOnContext(v -> model.stream(ask("hello", ""), new ChatModel.ModelSink() {
      @Override
      public void text(String delta) {
        deltas.add(delta);
      }

      @Override
      public void toolCall(ChatModel.ToolCallRequest call) {
      }

      @Override
      public void finished(String finishReason) {
        finish.complete(finishReason);
      }

      @Override
      public void failed(Throwable cause) {
        finish.completeExceptionally(cause);
      }
    }));
    await().atMost(Duration.ofSeconds(10)).until(() -> !deltas.isEmpty());
    // The node's event loop is held for a second (a loaded node): about 20 words fall due meanwhile.
    context.runOnContext(v -> {
      long until = System.nanoTime() + 1_000_000_000L;
      while (System.nanoTime() < until) {
        Thread.onSpinWait();
      }
    });
    assertThat(finish.get(20, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo("stop");

    assertThat(String.join("", deltas)).isEqualTo(SimulatedModel.answer(ask("hello", ""), 40));
    assertThat(deltas).as("the words that fell due while the loop was held came as one piece, not one per timer")
        .anySatisfy(d -> assertThat(d.split(" ").length).isGreaterThanOrEqualTo(10));
  }

  @Test
  void aCancelledCallReportsNothingMore() throws Exception {
    SimulatedModel model = new SimulatedModel(vertx, 20, 40, 0);
    Run run = new Run(new StringBuilder(), new CopyOnWriteArrayList<>(), new CompletableFuture<>());
    CompletableFuture<ChatModel.ModelCall> call = new CompletableFuture<>();
    vertx.runOnContext(v -> call.complete(model.stream(ask("long", ""), new ChatModel.ModelSink() {
      @Override
      public void text(String delta) {
        run.text.append(delta);
      }

      @Override
      public void toolCall(ChatModel.ToolCallRequest c) {
      }

      @Override
      public void finished(String finishReason) {
        run.finish.complete(finishReason);
      }

      @Override
      public void failed(Throwable cause) {
      }
    })));
    await().atMost(Duration.ofSeconds(10)).until(() -> run.text.length() > 0);
    // Text is reported on the model's context: the length read there right after cancel is final.
    CompletableFuture<Integer> atCancel = new CompletableFuture<>();
    vertx.runOnContext(v -> {
      call.join().cancel();
      atCancel.complete(run.text.length());
    });
    int seen = atCancel.get();
    // Six word intervals (20 words/s) later, nothing more has arrived.
    CompletableFuture<Void> later = new CompletableFuture<>();
    vertx.setTimer(300, t -> later.complete(null));
    later.get();
    assertThat(run.text.length()).isEqualTo(seen);
    assertThat(run.finish).isNotDone();
  }
}
