import { render } from 'preact';
import { App } from './app.js';
// xterm's own rules are small; in the page's stylesheet, so the lazily loaded terminal needs no other file.
import '@xterm/xterm/css/xterm.css';
import './styles.css';

render(<App />, document.getElementById('app')!);
