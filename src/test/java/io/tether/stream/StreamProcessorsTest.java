package io.tether.stream;

import org.junit.jupiter.api.Test;

import java.util.AbstractMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** How a processor hands its reply back: returned by default, left on the instance when asked. */
class StreamProcessorsTest {

  private static Map.Entry<String, StreamLog> absent() {
    return new AbstractMap.SimpleEntry<>("s", null);
  }

  private static StreamProcessors.Read read() {
    return new StreamProcessors.Read(ReadStart.BEGINNING, 1024, 0, Fence.NONE, 0, false);
  }

  @Test
  void aCopyFromTheNetworkReturnsItsReply() {
    StreamProcessors.Read processor = read();
    StreamReply returned = processor.process(absent());
    assertThat(returned).isNotNull();
    assertThat(returned.outcome()).isEqualTo(Outcome.NOT_FOUND);
    assertThat(processor.reply(returned)).isSameAs(returned);
  }

  @Test
  void theSubmittedInstanceKeepsItsReplyAndReturnsNothingToSerialize() {
    StreamProcessors.Read processor = read();
    processor.answerInPlace();
    assertThat(processor.process(absent())).as("nothing for Hazelcast to serialize").isNull();
    StreamReply kept = processor.reply(null);
    assertThat(kept).isNotNull();
    assertThat(kept.outcome()).isEqualTo(Outcome.NOT_FOUND);
  }

  @Test
  void aReplyThatCameBackFromAnotherMemberWins() {
    StreamProcessors.Read processor = read();
    processor.answerInPlace();
    processor.process(absent());
    StreamReply remote = StreamReply.of(Outcome.OK).build();
    assertThat(processor.reply(remote)).isSameAs(remote);
  }
}
