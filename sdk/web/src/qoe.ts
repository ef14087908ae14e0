/**
 * QoE watches the media element for the operator's console (docs/admin.md): join →
 * the first "playing" (startup), then the time spent "waiting" until playing again
 * (stalled). It reports to the tracker in stats (startup_ms, stalled_ms).
 */
export class QoE {
  private readonly t0 = performance.now();
  private startup?: number;
  private waitingSince?: number;
  private stalled = 0;
  private media?: HTMLMediaElement;
  private readonly onPlaying = () => {
    const now = performance.now();
    if (this.startup === undefined) this.startup = now - this.t0;
    if (this.waitingSince !== undefined) this.stalled += now - this.waitingSince;
    this.waitingSince = undefined;
  };
  private readonly onWaiting = () => {
    if (this.startup !== undefined && this.waitingSince === undefined) this.waitingSince = performance.now();
  };

  attach(m: HTMLMediaElement): void {
    this.detach();
    this.media = m;
    m.addEventListener("playing", this.onPlaying);
    m.addEventListener("waiting", this.onWaiting);
  }

  detach(): void {
    this.media?.removeEventListener("playing", this.onPlaying);
    this.media?.removeEventListener("waiting", this.onWaiting);
    this.media = undefined;
  }

  /** join → playback began, in ms; undefined before. */
  startupMs(): number | undefined {
    return this.startup;
  }

  /** total ms stalled after startup, an ongoing stall included. */
  stalledMs(): number {
    return this.stalled + (this.waitingSince !== undefined ? performance.now() - this.waitingSince : 0);
  }
}
