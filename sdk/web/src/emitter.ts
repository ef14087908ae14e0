// A small typed event emitter (no DOM EventTarget, so it also runs in workers and node).

type Listener<T> = (ev: T) => void;

export class Emitter<E> {
  private listeners = new Map<keyof E, Set<Listener<never>>>();

  on<K extends keyof E>(name: K, fn: Listener<E[K]>): () => void {
    let s = this.listeners.get(name);
    if (!s) this.listeners.set(name, (s = new Set()));
    s.add(fn as Listener<never>);
    return () => this.off(name, fn);
  }

  off<K extends keyof E>(name: K, fn: Listener<E[K]>): void {
    this.listeners.get(name)?.delete(fn as Listener<never>);
  }

  protected emit<K extends keyof E>(name: K, ev: E[K]): void {
    const s = this.listeners.get(name);
    if (!s) return;
    for (const fn of [...s]) {
      try {
        (fn as Listener<E[K]>)(ev);
      } catch (e) {
        // A listener's bug must not break the SDK's state machine.
        setTimeout(() => {
          throw e;
        });
      }
    }
  }

  protected removeAllListeners(): void {
    this.listeners.clear();
  }
}
