// codemirror's basicSetup without the search panel (@codemirror/search is 20 kB of the
// bundle; a flow file is a few hundred lines): line numbers, folding, history, brackets,
// highlighting, the active line, and the completion and lint keymaps.
import {
  crosshairCursor, drawSelection, dropCursor, highlightActiveLine, highlightActiveLineGutter,
  highlightSpecialChars, keymap, lineNumbers, rectangularSelection,
} from "@codemirror/view";
import {EditorState} from "@codemirror/state";
import {
  bracketMatching, defaultHighlightStyle, foldGutter, foldKeymap, indentOnInput,
  syntaxHighlighting,
} from "@codemirror/language";
import {defaultKeymap, history, historyKeymap} from "@codemirror/commands";
import {closeBrackets, closeBracketsKeymap, completionKeymap} from "@codemirror/autocomplete";
import {lintKeymap} from "@codemirror/lint";

export const setup = [
  lineNumbers(), highlightActiveLineGutter(), highlightSpecialChars(), history(), foldGutter(),
  drawSelection(), dropCursor(), EditorState.allowMultipleSelections.of(true), indentOnInput(),
  syntaxHighlighting(defaultHighlightStyle, {fallback: true}), bracketMatching(),
  closeBrackets(), rectangularSelection(), crosshairCursor(), highlightActiveLine(),
  keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...historyKeymap, ...foldKeymap,
             ...completionKeymap, ...lintKeymap]),
];
