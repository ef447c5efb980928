// A ringtone made with Web Audio (no file to fetch or license): two tones, the rhythm of a phone.

export class Ringtone {
  private context: AudioContext | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;

  /**
   * Starts ringing; false when the browser keeps the sound off until the user clicks somewhere (after a
   * reload, autoplay rules): then `unlock()` from a click turns it on.
   */
  start(): boolean {
    try {
      this.context ??= new AudioContext();
      if (this.context.state === 'suspended') void this.context.resume();
    } catch {
      return true; // No audio here (a headless browser without a device): the popup still shows.
    }
    if (!this.timer) {
      const ring = () => this.burst();
      ring();
      this.timer = setInterval(ring, 3000);
    }
    return this.context.state !== 'suspended';
  }

  /** From a click: lets the browser play the ringtone. */
  unlock() {
    void this.context?.resume();
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private burst() {
    const context = this.context;
    if (!context) return;
    for (const offset of [0, 0.4]) {
      const start = context.currentTime + offset;
      const gain = context.createGain();
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.12, start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.35);
      gain.connect(context.destination);
      for (const frequency of [440, 480]) {
        const tone = context.createOscillator();
        tone.frequency.value = frequency;
        tone.connect(gain);
        tone.start(start);
        tone.stop(start + 0.36);
      }
    }
  }
}
