// Every test starts from a store in which no other project's job is running, as a
// runner whose earlier jobs have ended: the job marks are removed after each test.
// The tests of a shared store make their own, and look at them.
import { afterEach } from "vitest";
import { forgetJobMarks } from "./marks.js";

afterEach(forgetJobMarks);
