/**
 * Runs `work` one at a time: a call while it runs shares the running promise and asks for exactly one more run
 * afterwards, so a burst of requests costs at most two runs and the last one sees the newest state.
 */
export class SingleFlight<T> {
  private running: Promise<T> | undefined;
  private again = false;

  constructor(private readonly work: () => Promise<T>) {}

  run(): Promise<T> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.work().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        // Failures of the follow-up run reach whoever calls run() next; nobody awaits this one.
        this.run().catch(() => undefined);
      }
    });
    return this.running;
  }
}
