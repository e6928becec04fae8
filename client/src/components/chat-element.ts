// The base class of <chat-app>'s elements, after Shoelace's ShoelaceElement: an element names the elements it
// renders in `static dependencies`, and constructing it registers them, so importing one class is enough.
import { LitElement } from "lit";
import { type ChatEventDetails, type ChatEventName, chatEvent } from "./events.ts";

export class ChatElement extends LitElement {
  /** The custom elements this one renders, by tag name: registered (once) before its first render. */
  static dependencies: Record<string, typeof ChatElement> = {};

  /**
   * Registers this class under `name` (and its dependencies under theirs) unless that name is taken. A
   * subclass is registered, as Shoelace does, so one class can be registered under several names.
   */
  static define(name: string, elementConstructor: typeof ChatElement = this): void {
    if (customElements.get(name) !== undefined) return;
    customElements.define(name, class extends elementConstructor {});
  }

  constructor() {
    super();
    const dependencies = (this.constructor as typeof ChatElement).dependencies;
    for (const [name, element] of Object.entries(dependencies)) ChatElement.define(name, element);
  }

  /** Dispatches a typed event from this element; returns false when a listener cancelled it. */
  protected emit<K extends ChatEventName>(name: K, detail: ChatEventDetails[K], init: { cancelable?: boolean } = {}): boolean {
    return this.dispatchEvent(chatEvent(name, detail, init));
  }
}
