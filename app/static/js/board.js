/* The task board on narrow screens shows one state at a time: the tabs pick it (remembered for the
   tab's session), and after an action the board shows the column the card moved to. */
(function () {
  var KEY = "fieldflow-board-column";

  function apply() {
    var board = document.getElementById("board");
    if (!board) return;
    if (board.dataset.moved) {
      sessionStorage.setItem(KEY, board.dataset.moved);
      delete board.dataset.moved;
    }
    var column = sessionStorage.getItem(KEY) || "new";
    board.dataset.show = column;
    board.querySelectorAll(".board-column").forEach(function (col) {
      col.classList.toggle("shown", col.dataset.column === column);
    });
    board.querySelectorAll(".board-tab").forEach(function (tab) {
      tab.setAttribute("aria-selected", tab.dataset.tab === column ? "true" : "false");
    });
  }

  document.addEventListener("click", function (event) {
    var tab = event.target.closest(".board-tab");
    if (!tab) return;
    sessionStorage.setItem(KEY, tab.dataset.tab);
    apply();
  });
  document.addEventListener("DOMContentLoaded", apply);
  document.addEventListener("htmx:afterSettle", apply);
})();
