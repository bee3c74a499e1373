package io.tether.transport;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

class ChannelWebSocketTest {

  @Test
  void aCloseReasonIsCutToFitAControlFrameAtAWholeCharacter() {
    assertThat(ChannelWebSocket.truncate("token expired")).isEqualTo("token expired");
    String ascii = "x".repeat(200);
    assertThat(ChannelWebSocket.truncate(ascii)).isEqualTo("x".repeat(123));
    // 122 ASCII bytes then a 3-byte character that would end at byte 125: it is dropped whole.
    String wide = "y".repeat(122) + "\u20ac" + "z";
    String cut = ChannelWebSocket.truncate(wide);
    assertThat(cut).isEqualTo("y".repeat(122));
    assertThat(cut.getBytes(StandardCharsets.UTF_8).length).isLessThanOrEqualTo(123);
    String exact = "w".repeat(120) + "\u20ac";
    assertThat(ChannelWebSocket.truncate(exact)).isEqualTo(exact);
  }
}
