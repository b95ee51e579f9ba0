"""faqbot: a patient FAQ chatbot for interventional procedures."""

__version__ = "0.2.0"
