/**
 * The plain words of *LogoMesh: Do...*, checked as the server will check them
 * (`nl.interpret`'s arguments) before they are sent. Pure: no vscode import.
 */

/** `nl.interpret`'s limit on the text (InterpretArgs.text max_length). */
export const MAX_TEXT = 2000;

export function checkWords(text: string): string | undefined {
  if (text.trim() === "") {
    return "Say what you want in your own words, e.g. what changed since main.";
  }
  const length = [...text].length;
  return length > MAX_TEXT
    ? `LogoMesh: Do... takes at most ${MAX_TEXT} characters; this has ${length}.`
    : undefined;
}
