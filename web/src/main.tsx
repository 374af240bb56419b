import { render } from "preact";
import "uplot/dist/uPlot.min.css";
import "./style.css";
import { App } from "./app";
import { language } from "./i18n";

document.documentElement.lang = language.get();
render(<App />, document.getElementById("app")!);
